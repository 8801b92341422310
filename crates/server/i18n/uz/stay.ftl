## Place-of-stay notices, the address search and "My data".

# Sana so'z bilan. $month: 1 … 12.
date-in-words = { $year }-yil { $day }-{ $month ->
        [1] yanvar
        [2] fevral
        [3] mart
        [4] aprel
        [5] may
        [6] iyun
        [7] iyul
        [8] avgust
        [9] sentabr
        [10] oktabr
        [11] noyabr
       *[12] dekabr
    }

# Asosiy ekran.
place-label = Yashash joyi
place-none = Ko'rsatilmagan
nav-stay = Yashash joyi
nav-mydata = Mening ma'lumotlarim
nav-help = Telefon yo'qoldimi yoki buzildimi?
back-button = Orqaga

# Migratsiya markazidan kod bilan kirish.
code-heading = Migratsiya markazidan kod
code-intro = Agar migratsiya markazi operatori sizga QR-kod ko'rsatgan bo'lsa, telefon kamerasini unga qarating. Yoki kodni shu yerga kiriting.
code-label = Kod
code-button = Kod bilan kirish

# Yashash joyi haqida xabar.
stay-heading = Yashash joyi
stay-intro = Qayerda yashashingizni ko'rsating: muntazam uxlaydigan va dam oladigan joyingiz. Manzil manzillar reyestridan tanlanadi. Ko'chib o'tsangiz, yangi xabar yuboring.
stay-current-label = Hozir ko'rsatilgan
stay-search-label = Ko'cha va uy
stay-search-hint = Masalan: Tverskaya 7 kv 12
stay-search-button = Qidirish
stay-no-results = Hech narsa topilmadi. Ko'cha nomi va uy raqamini tekshiring.
stay-more-results = Hamma manzillar ko'rsatilmadi. Uy yoki xonadon raqamini qo'shing.
stay-non-residential = turar joy emas
stay-chosen-label = Tanlangan manzil
stay-date-label = Shu yerda yashayman, sanadan
stay-host-label = Qabul qiluvchi tomon (agar bo'lsa)
stay-submit = Xabarni yuborish
stay-sent = Xabar qabul qilindi.
stay-same = Bu xabar avval qabul qilingan.
stay-choose-first = Avval manzilni toping va tanlang.
stay-history-heading = Xabarlaringiz
stay-history-empty = Hali xabarlar yo'q.
notice-state-current = Amalda
notice-state-superseded = Yangisi bilan almashtirilgan
notice-state-ended = Ro'yxat tugagan
notice-from = boshlanishi:
notice-sent = yuborilgan sana:
notice-host = Qabul qiluvchi tomon
flat-short = xonadon

# Xabar va kod xatolari.
error-unknown_address = Bunday manzil reyestrda yo'q. Manzilni qaytadan qidiring.
error-invalid_address_id = Manzil noto'g'ri. Manzilni qaytadan qidiring.
error-address_not_residential = Bu turar joy emas. Uxlaydigan va dam oladigan uy manzilingizni ko'rsating.
error-address_outside_region = Bu manzil Moskva yoki Moskva viloyatida emas. Boshqa hududga ko'chgan bo'lsangiz, u yerda odatdagi tartibda ro'yxatdan o'ting.
error-date_before_registration = Bu sana ro'yxatdan o'tishingizdan oldin. Keyingi sanani tanlang.
error-date_too_far_ahead = Bu sana juda uzoqda. Bugungi kunga yaqinroq sanani tanlang.
error-date_before_current_notice = Bu sana amaldagi xabar sanasidan oldin. Shu yoki keyingi sanani tanlang.
error-not_registered = Siz hozir ro'yxatda emassiz. Avval qaytadan kiring.
error-invalid_date = Sanani tanlang.
error-invalid_host_name = Qabul qiluvchi tomon nomi juda uzun.
error-query_too_short = Ko'cha nomidan kamida ikki harf kiriting.
error-query_too_long = So'rov juda uzun. Faqat ko'cha va uyni kiriting.
error-invalid_enrolment_code = Kod 10 ta harf va raqamdan iborat, masalan 7KQ2M-9XH4D. Uni tekshiring.
error-enrolment_code_unknown = Bunday kod yo'q. Kodni tekshiring yoki operatordan yangisini so'rang.
error-enrolment_code_expired = Kodning muddati tugagan. Operatordan yangisini so'rang.
error-enrolment_code_used = Bu kod allaqachon ishlatilgan. Operatordan yangisini so'rang.
error-enrolment_code_superseded = Kartangiz uchun yangiroq kod berilgan. O'shandan foydalaning.

# Mening ma'lumotlarim.
mydata-heading = Mening ma'lumotlarim
mydata-intro = Tizim siz haqingizda saqlaydigan hamma narsa.
mydata-identity = Karta ma'lumotlari
mydata-card = Karta raqami
mydata-name = Ism
mydata-citizenship = Fuqarolik
mydata-birth = Tug'ilgan sana
mydata-valid = Karta amal qiladi
mydata-registrations = Ro'yxatdan o'tishlar
mydata-active = amalda
mydata-devices = Telefonlar
mydata-device-active = Ishlaydi
mydata-device-revoked = O'chirilgan
mydata-device-this = shu telefon
mydata-bound = ulangan sana:
mydata-revoked = o'chirilgan sana:
mydata-until = tugashi:
mydata-notices = Yashash joyi haqida xabarlar
mydata-locations = Joylashuvlar
mydata-locations-count = Saqlangan joylashuvlar
mydata-locations-period = Birinchi va oxirgi
mydata-retention = Saqlash muddati, kun
mydata-retention-note = Eski joylashuvlarni avtomatik o'chirish hali yoqilmagan: hozircha hammasi saqlanadi.
mydata-signals = Tekshiruv uchun belgilar
mydata-signals-none = Belgilar yo'q.
mydata-signals-note = Belgi qoidabuzarlik ham, jazo ham emas. Uni xodim tekshiradi.
signal-kind-outside_region = Telefon hududdan tashqarida
signal-kind-outside_too_long = Uzoq vaqt hududdan tashqarida
signal-kind-push_subscription_gone = Telefonda bildirishnomalar o'chirilgan
signal-kind-app_probably_removed = Ilova o'chirilgan bo'lishi mumkin
signal-kind-stationary_device = Telefon uzoq vaqt qimirlamagan
signal-kind-spoofed_location = Joylashuv soxta bo'lishi mumkin
signal-kind-lives_elsewhere = Ko'rsatilgan manzilda tunamaydi
signal-kind-fictitious_address = Manzil tekshiruvi
signal-status-open = tekshiruvni kutmoqda
signal-status-in_review = tekshirilmoqda
signal-status-dismissed = olib tashlangan
signal-status-confirmed = tasdiqlangan
mydata-accesses = Ma'lumotlaringizni kim ko'rgan
mydata-accesses-none = Xodimlarning ma'lumotlaringizga murojaatlari hali qayd etilmaydi. Qayd etila boshlaganda, bu yerda har bir murojaat ko'rsatiladi: kim, qachon va qanday asosda.
mydata-none = yo'q

# Yo'qolgan telefon.
help-heading = Telefon yo'qoldimi yoki buzildimi?
help-intro = Ro'yxatdan o'tishingiz telefon bilan birga yo'qolmaydi. Yangi telefonni ikki usulning biri bilan ulang.
help-centre = Migratsiya markazida (masalan, Saxarovoda): operator kartangizni tekshiradi va QR-kod ko'rsatadi. Yangi telefon kamerasini unga qarating yoki kodni ilovaga kiriting. Kod 10 daqiqa va faqat bir marta ishlaydi.
help-self = O'zingiz: yangi telefonda ilovani oching va karta raqami hamda faollashtirish kodi bilan kiring.
help-revoke = Eski telefon darhol o'chiriladi: undan endi joylashuv yuborib bo'lmaydi. Telefon boshqa birovning qo'liga tushgan bo'lsa, bu sizni himoya qiladi.
help-deadline = Buni asosiy ekranda ko'rsatilgan muddatdan oldin qiling, aks holda ro'yxatdan chiqarilasiz.

## Who looked at your data (from the audit trail)
mydata-accesses-empty = Hech bir mansabdor shaxs maʼlumotlaringizni koʻrmagan.
mydata-role-enrolment_operator = migratsiya markazi operatori
mydata-role-migration_officer = migratsiya xizmati xodimi
mydata-role-police_officer = politsiya xodimi
mydata-role-supervisor = rahbar
mydata-role-auditor = auditor
mydata-role-admin = administrator
mydata-access-view = maʼlumotlaringizni koʻrdi
mydata-access-case = siz haqingizdagi ish
mydata-access-location = joylashuvingizni koʻrdi
mydata-access-decision = siz haqingizdagi qaror
mydata-access-other = boshqa harakat
mydata-legal-basis = asos

## Host parties: children's arrival notices and disputes.
signal-kind-address_disputed = Qabul qiluvchi tomon siz manzilda yashamasligingizni bildirdi
mydata-role-host_party = qabul qiluvchi tomon
mydata-children = Bolalar (kelishi haqida qabul qiluvchi tomon xabar bergan)
mydata-children-arrived = keldi
mydata-children-none = Bolalar qayd etilmagan.
