## Place-of-stay notices, the address search and "My data".

# Дата сөз менен. $month: 1 … 12.
date-in-words = { $year }-жылдын { $day }-{ $month ->
        [1] январы
        [2] февралы
        [3] марты
        [4] апрели
        [5] майы
        [6] июну
        [7] июлу
        [8] августу
        [9] сентябры
        [10] октябры
        [11] ноябры
       *[12] декабры
    }

# Негизги экран.
place-label = Жашаган жери
place-none = Көрсөтүлгөн эмес
nav-stay = Жашаган жери
nav-mydata = Менин маалыматтарым
nav-help = Телефон жоголдубу же бузулдубу?
back-button = Артка

# Миграция борборунан код менен кирүү.
code-heading = Миграция борборунан код
code-intro = Эгер миграция борборунун оператору сизге QR-код көрсөтсө, телефондун камерасын ага багыттаңыз. Же кодду бул жерге жазыңыз.
code-label = Код
code-button = Код менен кирүү

# Жашаган жери жөнүндө кабарлама.
stay-heading = Жашаган жери
stay-intro = Кайда жашаарыңызды көрсөтүңүз: дайыма уктаган жана эс алган жериңиз. Дарек даректер реестринен тандалат. Көчкөндө жаңы кабарлама жибериңиз.
stay-current-label = Азыр көрсөтүлгөн
stay-search-label = Көчө жана үй
stay-search-hint = Мисалы: Тверская 7 кв 12
stay-search-button = Издөө
stay-no-results = Эч нерсе табылган жок. Көчөнүн атын жана үйдүн номерин текшериңиз.
stay-more-results = Бардык даректер көрсөтүлгөн жок. Үйдүн же батирдин номерин кошуңуз.
stay-non-residential = турак жай эмес
stay-chosen-label = Тандалган дарек
stay-date-label = Бул жерде жашайм, күндөн
stay-host-label = Кабыл алуучу тарап (болсо)
stay-submit = Кабарламаны жөнөтүү
stay-sent = Кабарлама кабыл алынды.
stay-same = Бул кабарлама мурун эле кабыл алынган.
stay-choose-first = Адегенде даректи таап, тандаңыз.
stay-history-heading = Кабарламаларыңыз
stay-history-empty = Азырынча кабарламалар жок.
notice-state-current = Күчүндө
notice-state-superseded = Жаңысы менен алмаштырылды
notice-state-ended = Каттоо бүттү
notice-from = башталышы:
notice-sent = жөнөтүлгөн күнү:
notice-host = Кабыл алуучу тарап
flat-short = батир

# Кабарлама жана код каталары.
error-unknown_address = Мындай дарек реестрде жок. Даректи кайра издеңиз.
error-invalid_address_id = Дарек туура эмес. Даректи кайра издеңиз.
error-address_not_residential = Бул турак жай эмес. Уктаган жана эс алган үйүңүздүн дарегин көрсөтүңүз.
error-address_outside_region = Бул дарек Москвада да, Москва облусунда да эмес. Башка аймакка көчсөңүз, ал жерде кадимки тартипте каттоодон өтүңүз.
error-date_before_registration = Бул күн каттооңуз башталганга чейин. Кийинки күндү тандаңыз.
error-date_too_far_ahead = Бул күн өтө алыс. Бүгүнкү күнгө жакыныраак күндү тандаңыз.
error-date_before_current_notice = Бул күн күчүндөгү кабарламанын күнүнөн мурун. Ошол эле же кийинки күндү тандаңыз.
error-not_registered = Сиз азыр катталган эмессиз. Адегенде кайра кириңиз.
error-invalid_date = Күндү тандаңыз.
error-invalid_host_name = Кабыл алуучу тараптын аты өтө узун.
error-query_too_short = Көчөнүн атынан жок дегенде эки тамга жазыңыз.
error-query_too_long = Суроо өтө узун. Көчөнү жана үйдү гана жазыңыз.
error-invalid_enrolment_code = Код 10 тамга жана сандан турат, мисалы 7KQ2M-9XH4D. Аны текшериңиз.
error-enrolment_code_unknown = Мындай код жок. Кодду текшериңиз же оператордон жаңысын сураңыз.
error-enrolment_code_expired = Коддун мөөнөтү бүттү. Оператордон жаңысын сураңыз.
error-enrolment_code_used = Бул код мурун колдонулган. Оператордон жаңысын сураңыз.
error-enrolment_code_superseded = Картаңыз үчүн жаңыраак код берилген. Ошону колдонуңуз.

# Менин маалыматтарым.
mydata-heading = Менин маалыматтарым
mydata-intro = Система сиз жөнүндө сактаган бардык нерсе.
mydata-identity = Картанын маалыматтары
mydata-card = Картанын номери
mydata-name = Аты
mydata-citizenship = Жарандыгы
mydata-birth = Туулган күнү
mydata-valid = Карта жарактуу
mydata-registrations = Каттоолор
mydata-active = күчүндө
mydata-devices = Телефондор
mydata-device-active = Иштейт
mydata-device-revoked = Өчүрүлгөн
mydata-device-this = ушул телефон
mydata-bound = туташтырылган күнү:
mydata-revoked = өчүрүлгөн күнү:
mydata-until = бүткөн күнү:
mydata-notices = Жашаган жери жөнүндө кабарламалар
mydata-locations = Жайгашкан жерлер
mydata-locations-count = Сакталган жайгашкан жерлер
mydata-locations-period = Биринчиси жана акыркысы
mydata-retention = Сактоо мөөнөтү, күн
mydata-retention-note = Эски жайгашкан жерлерди автоматтык түрдө өчүрүү азырынча күйгүзүлө элек: азырынча баары сакталат.
mydata-signals = Текшерүү үчүн белгилер
mydata-signals-none = Белгилер жок.
mydata-signals-note = Белги мыйзам бузуу да, жаза да эмес. Аны кызматкер текшерет.
signal-kind-outside_region = Телефон аймактан тышкары
signal-kind-outside_too_long = Узак убакыт аймактан тышкары
signal-kind-push_subscription_gone = Телефондо билдирмелер өчүрүлгөн
signal-kind-app_probably_removed = Колдонмо өчүрүлгөн болушу мүмкүн
signal-kind-stationary_device = Телефон узак убакыт козголгон жок
signal-kind-spoofed_location = Жайгашкан жер жасалма болушу мүмкүн
signal-kind-lives_elsewhere = Көрсөтүлгөн даректе түнөбөйт
signal-kind-fictitious_address = Даректи текшерүү
signal-status-open = текшерүүнү күтүүдө
signal-status-in_review = текшерилүүдө
signal-status-dismissed = алынып салынды
signal-status-confirmed = ырасталды
mydata-accesses = Маалыматтарыңызды ким көрдү
mydata-accesses-none = Кызматкерлердин маалыматтарыңызга кайрылуулары азырынча жазылбайт. Жазыла баштаганда, бул жерде ар бир кайрылуу көрсөтүлөт: ким, качан жана кандай негизде.
mydata-none = жок

# Жоголгон телефон.
help-heading = Телефон жоголдубу же бузулдубу?
help-intro = Каттооңуз телефон менен кошо жоголбойт. Жаңы телефонду эки жолдун бири менен туташтырыңыз.
help-centre = Миграция борборунда (мисалы, Сахаровордо): оператор картаңызды текшерип, QR-код көрсөтөт. Жаңы телефондун камерасын ага багыттаңыз же кодду колдонмого жазыңыз. Код 10 мүнөт жана бир гана жолу иштейт.
help-self = Өзүңүз: жаңы телефондо колдонмону ачып, картанын номери жана активдештирүү коду менен кириңиз.
help-revoke = Эски телефон дароо өчүрүлөт: андан мындан ары жайгашкан жер жөнөтүүгө болбойт. Телефон башка бирөөнүн колуна түшсө, бул сизди коргойт.
help-deadline = Муну негизги экранда көрсөтүлгөн мөөнөткө чейин жасаңыз, болбосо каттоодон чыгарыласыз.

## Who looked at your data (from the audit trail)
mydata-accesses-empty = Бир да кызмат адамы сиздин маалыматтарыңызды караган жок.
mydata-role-enrolment_operator = миграция борборунун оператору
mydata-role-migration_officer = миграция кызматынын кызматкери
mydata-role-police_officer = милиция кызматкери
mydata-role-supervisor = жетекчи
mydata-role-auditor = аудитор
mydata-role-admin = администратор
mydata-access-view = маалыматтарыңызды карады
mydata-access-case = сиз тууралуу иш
mydata-access-location = жайгашкан жериңизди карады
mydata-access-decision = сиз тууралуу чечим
mydata-access-other = башка аракет
mydata-legal-basis = негиз

## Host parties: children's arrival notices and disputes.
signal-kind-address_disputed = Кабыл алуучу тарап сиз даректе жашабайсыз деп билдирди
mydata-role-host_party = кабыл алуучу тарап
mydata-children = Балдар (келгени тууралуу кабыл алуучу тарап билдирген)
mydata-children-arrived = келди
mydata-children-none = Балдар катталган эмес.
