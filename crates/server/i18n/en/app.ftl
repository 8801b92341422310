# The migrant's app, English. Keep sentences short and plain.
app-title = Migrant registration
lang-label = Language
enrol-heading = Sign in with your card
enrol-intro = Enter the number of your foreign citizen card and the activation code you were given.
card-number-label = Card number
secret-label = Activation code
enrol-button = Sign in
working = Please wait…
status-heading = Your registration
status-registered = You are registered
status-deregistered = You are not registered
last-fix-label = Last location received
last-fix-none = Not received yet
deadline-label = Send your location
presence-label = Where you are
presence-in_region = In Moscow or Moscow Oblast
presence-outside = Outside Moscow and Moscow Oblast
presence-uncertain = Near the border of the region
presence-unknown = Not known yet
reason-label = Reason
reason-no_monitoring = No location was received for three working days.
reason-other = Your registration was ended.
what-now-registered = Open this app every day and wait until it says "All locations sent".
what-now-deregistered = Go to a migration centre, or sign in again with your card.
queue-label = Locations waiting to be sent
sync-sent = All locations sent
sync-waiting = Not sent yet. The app will try again when there is internet.
sync-sending = Sending…
send-now-button = Send my location now
refresh-button = Refresh
background-note = This app cannot send your location when it is closed. Open it at least once every day.
location-off = Location is off. Allow location for this browser in the phone settings, then open the app again.
location-unavailable = The phone cannot find its location now. Go near a window or outside and try again.
offline-banner = No internet. Your locations are saved on the phone and will be sent later.
fix-refused = The server refused one location. It was deleted.
no-crypto = This browser cannot be used. Please open the app in Chrome.
error-generic = Something went wrong. Please try again later.
error-network = No connection to the server. Check the internet and try again.
error-invalid_credentials = Wrong card number or activation code.
error-too_many_attempts = Too many tries. Wait a little and try again.
error-card_locked = The card is blocked after too many wrong codes. Go to a migration centre.
error-card_expired = Your card has expired.
error-invalid_card_number = The card number is not right. Check it and try again.
error-invalid_secret = The activation code is not right. Check it and try again.
error-binding_token_invalid = The sign-in took too long. Please sign in again.
error-key_already_bound = This phone is already registered.
error-invalid_public_key = The phone could not make its key. Try another browser.
error-device_revoked = Another phone was registered for you, so this one no longer works. Sign in again.
error-unknown_device = This phone is not registered. Sign in again.
error-signature_expired = The clock on the phone is wrong. Set the right time and try again.
error-database_unavailable = The server is busy. Your locations are saved and will be sent later.
# The deadline in words. $weekday: 1 = Monday … 7 = Sunday; $month: 1 … 12.
deadline-until = until the end of { $weekday ->
        [1] Monday
        [2] Tuesday
        [3] Wednesday
        [4] Thursday
        [5] Friday
        [6] Saturday
       *[7] Sunday
    }, { $day } { $month ->
        [1] January
        [2] February
        [3] March
        [4] April
        [5] May
        [6] June
        [7] July
        [8] August
        [9] September
        [10] October
        [11] November
       *[12] December
    }
