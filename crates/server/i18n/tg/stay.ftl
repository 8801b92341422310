## Place-of-stay notices, the address search and "My data".

# Сана бо калимаҳо. $month: 1 … 12.
date-in-words = { $day } { $month ->
        [1] январи
        [2] феврали
        [3] марти
        [4] апрели
        [5] майи
        [6] июни
        [7] июли
        [8] августи
        [9] сентябри
        [10] октябри
        [11] ноябри
       *[12] декабри
    } соли { $year }

# Экрани асосӣ.
place-label = Ҷои будубош
place-none = Нишон дода нашудааст
nav-stay = Ҷои будубош
nav-mydata = Маълумоти ман
nav-help = Телефон гум шуд ё вайрон шуд?
back-button = Бозгашт

# Ворид шудан бо рамз аз маркази муҳоҷират.
code-heading = Рамз аз маркази муҳоҷират
code-intro = Агар оператори маркази муҳоҷират ба шумо QR-рамз нишон дода бошад, камераи телефонро ба он равона кунед. Ё рамзро дар ин ҷо ворид кунед.
code-label = Рамз
code-button = Бо рамз ворид шудан

# Огоҳинома дар бораи ҷои будубош.
stay-heading = Ҷои будубош
stay-intro = Нишон диҳед, ки дар куҷо зиндагӣ мекунед: ҷое, ки мунтазам хоб ва истироҳат мекунед. Суроға аз феҳристи суроғаҳо интихоб карда мешавад. Ҳангоми кӯчидан огоҳиномаи нав фиристед.
stay-current-label = Ҳоло нишон дода шудааст
stay-search-label = Кӯча ва хона
stay-search-hint = Масалан: Тверская 7 кв 12
stay-search-button = Ҷустуҷӯ
stay-no-results = Ҳеҷ чиз ёфт нашуд. Номи кӯча ва рақами хонаро санҷед.
stay-more-results = На ҳамаи суроғаҳо нишон дода шудаанд. Рақами хона ё хонаводаро илова кунед.
stay-non-residential = ғайриистиқоматӣ
stay-chosen-label = Суроғаи интихобшуда
stay-date-label = Дар ин ҷо зиндагӣ мекунам аз
stay-host-label = Тарафи қабулкунанда (агар бошад)
stay-submit = Фиристодани огоҳинома
stay-sent = Огоҳинома қабул шуд.
stay-same = Ин огоҳинома аллакай пештар қабул шуда буд.
stay-choose-first = Аввал суроғаро ёбед ва интихоб кунед.
stay-history-heading = Огоҳиномаҳои шумо
stay-history-empty = Ҳоло огоҳинома нест.
notice-state-current = Амал мекунад
notice-state-superseded = Бо нав иваз шуд
notice-state-ended = Бақайдгирӣ ба охир расид
notice-from = аз
notice-sent = фиристода шуд:
notice-host = Тарафи қабулкунанда
flat-short = ҳуҷра

# Хатоҳои огоҳинома ва рамз.
error-unknown_address = Чунин суроға дар феҳрист нест. Суроғаро аз нав ҷустуҷӯ кунед.
error-invalid_address_id = Суроға нодуруст аст. Суроғаро аз нав ҷустуҷӯ кунед.
error-address_not_residential = Ин бинои ғайриистиқоматӣ аст. Суроғаи манзилеро нишон диҳед, ки дар он хоб ва истироҳат мекунед.
error-address_outside_region = Ин суроға на дар Маскав ва на дар вилояти Маскав аст. Агар ба минтақаи дигар кӯчида бошед, дар он ҷо бо тартиби муқаррарӣ ба қайд гиред.
error-date_before_registration = Ин сана пеш аз оғози бақайдгирии шумост. Санаи дертарро интихоб кунед.
error-date_too_far_ahead = Ин сана хеле дур аст. Санаи ба имрӯз наздиктарро интихоб кунед.
error-date_before_current_notice = Ин сана пеш аз санаи огоҳиномаи амалкунанда аст. Ҳамон сана ё санаи дертарро интихоб кунед.
error-not_registered = Шумо ҳоло ба қайд гирифта нашудаед. Аввал аз нав ворид шавед.
error-invalid_date = Санаро интихоб кунед.
error-invalid_host_name = Номи тарафи қабулкунанда хеле дароз аст.
error-query_too_short = Аз номи кӯча ақаллан ду ҳарф ворид кунед.
error-query_too_long = Дархост хеле дароз аст. Танҳо кӯча ва хонаро ворид кунед.
error-invalid_enrolment_code = Рамз аз 10 ҳарф ва рақам иборат аст, масалан 7KQ2M-9XH4D. Онро санҷед.
error-enrolment_code_unknown = Чунин рамз нест. Рамзро санҷед ё аз оператор рамзи нав пурсед.
error-enrolment_code_expired = Мӯҳлати рамз гузашт. Аз оператор рамзи нав пурсед.
error-enrolment_code_used = Ин рамз аллакай истифода шудааст. Аз оператор рамзи нав пурсед.
error-enrolment_code_superseded = Барои корти шумо рамзи навтар дода шуд. Онро истифода баред.

# Маълумоти ман.
mydata-heading = Маълумоти ман
mydata-intro = Ҳама чизе, ки система дар бораи шумо нигоҳ медорад.
mydata-identity = Маълумоти корт
mydata-card = Рақами корт
mydata-name = Ном
mydata-citizenship = Шаҳрвандӣ
mydata-birth = Санаи таваллуд
mydata-valid = Корт эътибор дорад то
mydata-registrations = Бақайдгириҳо
mydata-active = амал мекунад
mydata-devices = Телефонҳо
mydata-device-active = Кор мекунад
mydata-device-revoked = Хомӯш карда шуд
mydata-device-this = ҳамин телефон
mydata-bound = пайваст шуд:
mydata-revoked = хомӯш карда шуд:
mydata-until = то
mydata-notices = Огоҳиномаҳо дар бораи ҷои будубош
mydata-locations = Ҷойгиршавиҳо
mydata-locations-count = Ҷойгиршавиҳои нигоҳдошта
mydata-locations-period = Аввалин ва охирин
mydata-retention = Мӯҳлати нигоҳдорӣ, рӯз
mydata-retention-note = Нест кардани худкори ҷойгиршавиҳои кӯҳна ҳоло фаъол нест: то ҳол ҳамаашон нигоҳ дошта мешаванд.
mydata-signals = Аломатҳо барои санҷиш
mydata-signals-none = Аломат нест.
mydata-signals-note = Аломат вайронкорӣ ва ҷазо нест. Онро корманд месанҷад.
signal-kind-outside_region = Телефон берун аз минтақа
signal-kind-outside_too_long = Муддати дароз берун аз минтақа
signal-kind-push_subscription_gone = Огоҳиҳо дар телефон хомӯшанд
signal-kind-app_probably_removed = Шояд барнома нест карда шудааст
signal-kind-stationary_device = Телефон муддати дароз ҳаракат накардааст
signal-kind-spoofed_location = Шояд ҷойгиршавӣ қалбакӣ бошад
signal-kind-lives_elsewhere = Дар суроғаи нишондода шаб намегузаронад
signal-kind-fictitious_address = Санҷиши суроға
signal-status-open = интизори санҷиш
signal-status-in_review = санҷида мешавад
signal-status-dismissed = бекор шуд
signal-status-confirmed = тасдиқ шуд
mydata-accesses = Кӣ маълумоти шуморо дидааст
mydata-accesses-none = Муроҷиати кормандон ба маълумоти шумо ҳоло сабт намешавад. Вақте ки сабт оғоз мешавад, ҳар як муроҷиат дар ин ҷо нишон дода мешавад: кӣ, кай ва бо кадом асос.
mydata-none = нест

# Телефони гумшуда.
help-heading = Телефон гум шуд ё вайрон шуд?
help-intro = Бақайдгирии шумо бо телефон гум намешавад. Телефони навро бо яке аз ду роҳ пайваст кунед.
help-centre = Дар маркази муҳоҷират (масалан, дар Сахарово): оператор корти шуморо месанҷад ва QR-рамз нишон медиҳад. Камераи телефони навро ба он равона кунед ё рамзро дар барнома ворид кунед. Рамз 10 дақиқа ва танҳо як бор кор мекунад.
help-self = Худатон: барномаро дар телефони нав кушоед ва бо рақами корт ва рамзи фаъолсозӣ ворид шавед.
help-revoke = Телефони кӯҳна фавран хомӯш карда мешавад: аз он дигар ҷойгиршавӣ фиристодан мумкин нест. Ин шуморо муҳофизат мекунад, агар телефон ба дасти каси дигар афтода бошад.
help-deadline = Инро то мӯҳлате, ки дар экрани асосӣ нишон дода шудааст, иҷро кунед, вагарна бақайдгирӣ бекор мешавад.

## Who looked at your data (from the audit trail)
mydata-accesses-empty = Ягон шахси мансабдор ба маълумоти шумо дастрасӣ накардааст.
mydata-role-enrolment_operator = оператори маркази муҳоҷират
mydata-role-migration_officer = корманди хадамоти муҳоҷират
mydata-role-police_officer = корманди милитсия
mydata-role-supervisor = роҳбар
mydata-role-auditor = аудитор
mydata-role-admin = маъмур
mydata-access-view = маълумоти шуморо дид
mydata-access-case = парванда дар бораи шумо
mydata-access-location = макони шуморо дид
mydata-access-decision = қарор дар бораи шумо
mydata-access-other = амали дигар
mydata-legal-basis = асос

## Host parties: children's arrival notices and disputes.
signal-kind-address_disputed = Тарафи қабулкунанда хабар дод, ки шумо дар суроға зиндагӣ намекунед
mydata-role-host_party = тарафи қабулкунанда
mydata-children = Кӯдакон (дар бораи омадан тарафи қабулкунанда хабар додааст)
mydata-children-arrived = омад
mydata-children-none = Кӯдакон сабт нашудаанд.
