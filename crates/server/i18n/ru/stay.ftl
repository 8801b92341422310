## Place-of-stay notices, the address search and "My data".

# Дата словами. $month: 1 … 12.
date-in-words = { $day } { $month ->
        [1] января
        [2] февраля
        [3] марта
        [4] апреля
        [5] мая
        [6] июня
        [7] июля
        [8] августа
        [9] сентября
        [10] октября
        [11] ноября
       *[12] декабря
    } { $year } г.

# Главный экран.
place-label = Место пребывания
place-none = Не указано
nav-stay = Место пребывания
nav-mydata = Мои данные
nav-help = Потеряли или сломали телефон?
back-button = Назад

# Вход по коду из миграционного центра.
code-heading = Код из миграционного центра
code-intro = Если оператор миграционного центра показал вам QR-код, наведите на него камеру телефона. Или введите код здесь.
code-label = Код
code-button = Войти по коду

# Уведомление о месте пребывания.
stay-heading = Место пребывания
stay-intro = Укажите, где вы живёте: место, где вы регулярно спите и отдыхаете. Адрес выбирается из адресного реестра. При переезде отправьте новое уведомление.
stay-current-label = Сейчас указано
stay-search-label = Улица и дом
stay-search-hint = Например: Тверская 7 кв 12
stay-search-button = Найти
stay-no-results = Ничего не найдено. Проверьте название улицы и номер дома.
stay-more-results = Показаны не все адреса. Добавьте номер дома или квартиры.
stay-non-residential = нежилое
stay-chosen-label = Выбранный адрес
stay-date-label = Живу здесь с
stay-host-label = Принимающая сторона (если есть)
stay-submit = Отправить уведомление
stay-sent = Уведомление принято.
stay-same = Это уведомление уже было принято раньше.
stay-choose-first = Сначала найдите и выберите адрес.
stay-history-heading = История уведомлений
stay-history-empty = Уведомлений пока нет.
notice-state-current = Действует
notice-state-superseded = Заменено новым
notice-state-ended = Регистрация закончилась
notice-from = с
notice-sent = отправлено
notice-host = Принимающая сторона
flat-short = кв.

# Ошибки уведомлений и кодов.
error-unknown_address = Такого адреса нет в реестре. Найдите адрес ещё раз.
error-invalid_address_id = Адрес указан неверно. Найдите адрес ещё раз.
error-address_not_residential = Это нежилое помещение. Укажите жилой адрес, где вы спите и отдыхаете.
error-address_outside_region = Этот адрес не в Москве и не в Московской области. Если вы переехали в другой регион, встаньте там на учёт обычным порядком.
error-date_before_registration = Эта дата раньше начала вашей регистрации. Выберите более позднюю дату.
error-date_too_far_ahead = Эта дата слишком далеко впереди. Выберите дату ближе к сегодняшней.
error-date_before_current_notice = Эта дата раньше даты действующего уведомления. Выберите ту же или более позднюю дату.
error-not_registered = Вы сейчас не зарегистрированы. Сначала войдите заново.
error-invalid_date = Выберите дату.
error-invalid_host_name = Название принимающей стороны слишком длинное.
error-query_too_short = Введите хотя бы две буквы названия улицы.
error-query_too_long = Слишком длинный запрос. Введите только улицу и дом.
error-invalid_enrolment_code = Код — это 10 букв и цифр, например 7KQ2M-9XH4D. Проверьте его.
error-enrolment_code_unknown = Такого кода нет. Проверьте код или попросите оператора выдать новый.
error-enrolment_code_expired = Срок действия кода истёк. Попросите оператора выдать новый.
error-enrolment_code_used = Этот код уже использован. Попросите оператора выдать новый.
error-enrolment_code_superseded = Для вашей карты выдан более новый код. Используйте его.

# Мои данные.
mydata-heading = Мои данные
mydata-intro = Всё, что система хранит о вас.
mydata-identity = Данные карты
mydata-card = Номер карты
mydata-name = Имя
mydata-citizenship = Гражданство
mydata-birth = Дата рождения
mydata-valid = Карта действует до
mydata-registrations = Регистрации
mydata-active = действует
mydata-devices = Телефоны
mydata-device-active = Работает
mydata-device-revoked = Отключён
mydata-device-this = этот телефон
mydata-bound = подключён
mydata-revoked = отключён
mydata-until = по
mydata-notices = Уведомления о месте пребывания
mydata-locations = Местоположения
mydata-locations-count = Сохранено местоположений
mydata-locations-period = Первое и последнее
mydata-retention = Срок хранения, дней
mydata-retention-note = Автоматическое удаление старых местоположений ещё не включено: пока хранятся все.
mydata-signals = Отметки для проверки
mydata-signals-none = Отметок нет.
mydata-signals-note = Отметка — не нарушение и не наказание. Её проверяет сотрудник.
signal-kind-outside_region = Телефон за пределами региона
signal-kind-outside_too_long = Долго за пределами региона
signal-kind-push_subscription_gone = Уведомления на телефоне отключены
signal-kind-app_probably_removed = Приложение, возможно, удалено
signal-kind-stationary_device = Телефон долго не двигается
signal-kind-spoofed_location = Подозрение на подмену местоположения
signal-kind-lives_elsewhere = Ночует не по указанному адресу
signal-kind-fictitious_address = Проверка адреса
signal-status-open = ждёт проверки
signal-status-in_review = проверяется
signal-status-dismissed = снята
signal-status-confirmed = подтверждена
mydata-accesses = Кто смотрел ваши данные
mydata-accesses-none = Журнал обращений сотрудников к вашим данным ещё не ведётся. Когда он появится, здесь будет каждое обращение: кто, когда и на каком основании.
mydata-none = нет

# Потерянный телефон.
help-heading = Потеряли или сломали телефон?
help-intro = Регистрация не пропадает вместе с телефоном. Подключите новый телефон одним из двух способов.
help-centre = В миграционном центре (например, в Сахарово): оператор проверит вашу карту и покажет QR-код. Наведите на него камеру нового телефона или введите код в приложении. Код действует 10 минут и только один раз.
help-self = Самостоятельно: откройте приложение на новом телефоне и войдите с номером карты и кодом активации.
help-revoke = Старый телефон отключается сразу: с него больше нельзя отправлять местоположение. Это защищает вас, если телефон попал к кому-то другому.
help-deadline = Сделайте это до срока, указанного на главном экране, иначе регистрацию снимут.

## Who looked at your data (from the audit trail)
mydata-accesses-empty = Никто из должностных лиц не обращался к вашим данным.
mydata-role-enrolment_operator = оператор миграционного центра
mydata-role-migration_officer = сотрудник миграционной службы
mydata-role-police_officer = сотрудник полиции
mydata-role-supervisor = руководитель
mydata-role-auditor = аудитор
mydata-role-admin = администратор
mydata-access-view = просмотр ваших данных
mydata-access-case = дело о вас
mydata-access-location = просмотр вашего местоположения
mydata-access-decision = решение о вас
mydata-access-other = другое действие
mydata-legal-basis = основание

## Host parties: children's arrival notices and disputes.
signal-kind-address_disputed = Принимающая сторона сообщила, что вы не проживаете по адресу
mydata-role-host_party = принимающая сторона
mydata-children = Дети (о прибытии уведомила принимающая сторона)
mydata-children-arrived = прибыл(а)
mydata-children-none = Дети не записаны.
