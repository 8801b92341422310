# Migrant ilovasi, o'zbek tili (lotin yozuvi). Qisqa va oddiy gaplar.
app-title = Migrantni ro'yxatga olish
lang-label = Til
enrol-heading = Karta bilan kirish
enrol-intro = Chet el fuqarosi kartangiz raqamini va sizga berilgan faollashtirish kodini kiriting.
card-number-label = Karta raqami
secret-label = Faollashtirish kodi
enrol-button = Kirish
working = Kuting…
status-heading = Ro'yxatdan o'tishingiz
status-registered = Siz ro'yxatdasiz
status-deregistered = Siz ro'yxatda emassiz
last-fix-label = Oxirgi joylashuv qabul qilindi
last-fix-none = Hali qabul qilinmadi
deadline-label = Joylashuvni yuboring
presence-label = Qayerdasiz
presence-in_region = Moskva yoki Moskva viloyatida
presence-outside = Moskva va Moskva viloyatidan tashqarida
presence-uncertain = Hudud chegarasi yonida
presence-unknown = Hozircha noma'lum
reason-label = Sabab
reason-no_monitoring = Uch ish kuni joylashuv ma'lumoti kelmadi.
reason-other = Ro'yxatdan o'tishingiz tugatildi.
what-now-registered = Ilovani har kuni oching va "Hammasi yuborildi" yozuvini kuting.
what-now-deregistered = Migratsiya markaziga boring yoki karta bilan qaytadan kiring.
queue-label = Yuborilishini kutmoqda
sync-sent = Hammasi yuborildi
sync-waiting = Hali yuborilmadi. Internet bo'lganda ilova qayta yuboradi.
sync-sending = Yuborilmoqda…
send-now-button = Joylashuvni hozir yuborish
refresh-button = Yangilash
background-note = Yopiq ilova joylashuvni yubora olmaydi. Uni kuniga kamida bir marta oching.
location-off = Joylashuv o'chirilgan. Telefon sozlamalarida brauzerga joylashuvga ruxsat bering va ilovani qayta oching.
location-unavailable = Telefon hozir joylashuvni aniqlay olmayapti. Deraza yoniga yoki tashqariga chiqib, qayta urinib ko'ring.
offline-banner = Internet yo'q. Ma'lumotlar telefonda saqlandi va keyinroq yuboriladi.
fix-refused = Server bitta joylashuvni qabul qilmadi. U o'chirildi.
no-crypto = Bu brauzer to'g'ri kelmaydi. Ilovani Chrome'da oching.
error-generic = Xatolik yuz berdi. Keyinroq qayta urinib ko'ring.
error-network = Server bilan aloqa yo'q. Internetni tekshiring va qayta urinib ko'ring.
error-invalid_credentials = Karta raqami yoki faollashtirish kodi noto'g'ri.
error-too_many_attempts = Urinishlar juda ko'p. Biroz kuting va qayta urinib ko'ring.
error-card_locked = Noto'g'ri kodlar sababli karta bloklandi. Migratsiya markaziga boring.
error-card_expired = Kartangiz muddati tugagan.
error-invalid_card_number = Karta raqami noto'g'ri. Tekshiring va qayta urinib ko'ring.
error-invalid_secret = Faollashtirish kodi noto'g'ri. Tekshiring va qayta urinib ko'ring.
error-binding_token_invalid = Kirish juda uzoq davom etdi. Qaytadan kiring.
error-key_already_bound = Bu telefon allaqachon ro'yxatdan o'tgan.
error-invalid_public_key = Telefon kalit yarata olmadi. Boshqa brauzerni sinab ko'ring.
error-device_revoked = Siz uchun boshqa telefon ro'yxatdan o'tkazildi, bu telefon endi ishlamaydi. Qaytadan kiring.
error-unknown_device = Bu telefon ro'yxatdan o'tmagan. Qaytadan kiring.
error-signature_expired = Telefondagi vaqt noto'g'ri. To'g'ri vaqtni o'rnating va qayta urinib ko'ring.
error-database_unavailable = Server band. Ma'lumotlar saqlandi va keyinroq yuboriladi.
# Muddat so'z bilan. $weekday: 1 = dushanba … 7 = yakshanba; $month: 1 … 12.
deadline-until = { $day }-{ $month ->
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
    }, { $weekday ->
        [1] dushanba
        [2] seshanba
        [3] chorshanba
        [4] payshanba
        [5] juma
        [6] shanba
       *[7] yakshanba
    } kuni oxirigacha
