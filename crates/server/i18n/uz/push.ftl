## Notifications (Web Push) and the push permission check.

## Push notices. $hours is a number; $deadline is the deadline in words.
push-cause-title = Joylashuvingiz kelmayapti
push-why-location_off = Joylashuvga ruxsat oʻchirilgan. Ilovani oching va joylashuvni yoqing, aks holda roʻyxatdan chiqarilishingiz mumkin.
push-why-no_gnss = Telefon joylashuvni aniqlay olmayapti. Ochiq joyga chiqing, yuqori aniqlikdagi joylashuvni yoqing va ilovani oching.
push-why-offline = Joylashuv maʼlumotlari telefonda yuborilishini kutmoqda. Internetga ulaning va ilovani oching.
push-why-app_not_running = Ilova ochilmagan. Uni hozir oching: u fonda ishlamaydi.
push-why-battery_low = Telefon oxirgi marta joylashuvni yuborganida batareya deyarli tugagan edi. Telefonni quvvatlang va ilovani oching; quvvatni tejash rejimi uni to'xtatmasin.
push-why-tracker_stopped = OwnTracks joylashuvingizni yuborishni to'xtatdi. OwnTracks'ni oching va telefonning batareya sozlamalarini shu ilovadagi "OwnTracks ishlashi uchun batareya sozlamalari" bo'limida yozilganidek o'zgartiring.
push-why-unknown = Telefon sozlamalarini tekshiring: joylashuv va internet yoqilgan boʻlishi kerak. Ilovani oching.
push-no-fix-title = { $hours } soatdan beri joylashuv yoʻq
push-deadline-title = Muddat ertaga tugaydi
push-deadline-body = Joylashuvingiz bizga { $deadline } yetib kelishi kerak. Roʻyxatni saqlash uchun ilovani joylashuv yoqilgan holda oching.
push-checkin-title = Ilovani oching
push-checkin-body = Bugun ilovani hali ochmadingiz. Joylashuvingizni olishimiz uchun uni oching.
push-deregistered-title = Roʻyxatdan chiqarildingiz
push-deregistered-no_monitoring = Uch ish kuni davomida joylashuv kelmadi. Ilovani oching va qaytadan roʻyxatdan oʻting yoki migratsiya markaziga murojaat qiling.
push-deregistered-registered_elsewhere = Siz boshqa hududda roʻyxatdan oʻtdingiz. Qaytganingizda ilovada qaytadan roʻyxatdan oʻting.
push-deregistered-left_country = Rossiyadan chiqib ketganingiz haqida maʼlumot keldi. Qaytganingizda ilovada qaytadan roʻyxatdan oʻting.
push-deregistered-document_invalid = Hujjatingiz endi haqiqiy emas. Migratsiya markaziga murojaat qiling.
push-deregistered-officer_decision = Roʻyxat xodim qarori bilan bekor qilindi. Migratsiya markaziga murojaat qiling.

## The permission check screen.
perm-open-button = Ruxsatlarni tekshirish
perm-heading = Ruxsatlar
perm-intro = Roʻyxatni saqlash uchun ilovaga ikkita ruxsat kerak.
perm-location-heading = Joylashuv
perm-location-why = Joylashuv Moskva yoki Moskva viloyatida ekaningizni koʻrsatadi. Usiz maʼlumot kelmaydi va uch ish kuni joylashuvsiz oʻtsa, roʻyxat bekor qilinadi.
perm-notifications-heading = Bildirishnomalar
perm-notifications-why = Bildirishnomalar joylashuv kelmay qolganda, muddat yaqinlashganda yoki roʻyxatingiz oʻzgarganda xabar beradi.
perm-state-granted = Ruxsat berilgan
perm-state-prompt = Hali soʻralmagan
perm-state-denied = Taqiqlangan
perm-state-unsupported = Bu brauzerda mavjud emas
perm-ask-button = Ruxsat berish
perm-location-denied-help = Joylashuv taqiqlangan. Telefonning «Sozlamalar» → «Ilovalar» → brauzeringiz → «Ruxsatlar» → «Joylashuv» boʻlimini oching va «Ruxsat berish»ni tanlang. Tezkor sozlamalarda joylashuv tugmasini ham yoqing. Keyin qaytib, «Qayta tekshirish»ni bosing.
perm-notifications-denied-help = Bildirishnomalar taqiqlangan. Telefonning «Sozlamalar» → «Ilovalar» → brauzeringiz → «Bildirishnomalar» boʻlimida ularni yoqing; brauzerda ushbu sayt sozlamalarini ochib, bildirishnomalarga ruxsat bering.
perm-recheck-button = Qayta tekshirish
perm-back-button = Orqaga
perm-warning = Baʼzi ruxsatlar oʻchirilgan. Ularni tekshiring.
push-on = Bildirishnomalar yoqilgan.
push-unavailable = Bu telefonda bildirishnomalarni yoqib boʻlmadi. Ilovani har kuni oching.
checkin-label = Ilova oxirgi marta ochilgan

## Outside the pilot region for too long (integration.outside_working_days).
push-outside-title = Siz uzoq vaqtdan beri Moskvadan tashqaridasiz
push-outside-body = Siz uzoq vaqtdan beri Moskva va Moskva viloyatidan tashqaridasiz. Hozir turgan joyingizda migratsiya hisobiga turing. Qaytib kelganingizda ilovani oching.
