## Notifications (Web Push) and the push permission check.

## Push notices. $hours is a number; $deadline is the deadline in words
## ("until the end of Wednesday, 3 December").
push-cause-title = Your location is not arriving
push-why-location_off = Location access is turned off. Open the app and turn location on, or your registration may be cancelled.
push-why-no_gnss = The phone cannot find its location. Go outside, turn on high-accuracy location and open the app.
push-why-offline = Your locations are waiting on the phone to be sent. Connect to the internet and open the app.
push-why-app_not_running = The app has not been opened. Open it now: it does not work in the background.
push-why-battery_low = Your phone's battery was almost empty when it last reported. Charge the phone and open the app; do not let battery saving stop it.
push-why-tracker_stopped = OwnTracks has stopped sending your location. Open OwnTracks and change the phone's battery settings as this app explains under "Battery settings that keep OwnTracks working".
push-why-unknown = Check your phone's settings: location and internet must be on. Open the app.
push-no-fix-title = No location for { $hours } h
push-deadline-title = Deadline tomorrow
push-deadline-body = Your location must reach us { $deadline }. Open the app with location on to keep your registration.
push-checkin-title = Open the app
push-checkin-body = You have not opened the app today. Open it so that we receive your location.
push-deregistered-title = Registration cancelled
push-deregistered-no_monitoring = No location arrived for three working days. Open the app and register again, or go to a migration centre.
push-deregistered-registered_elsewhere = You registered in another region. When you come back, register again in the app.
push-deregistered-left_country = We were told you left Russia. When you come back, register again in the app.
push-deregistered-document_invalid = Your document is no longer valid. Go to a migration centre.
push-deregistered-officer_decision = An officer cancelled your registration. Go to a migration centre.

## The permission check screen.
perm-open-button = Check permissions
perm-heading = Permissions
perm-intro = To keep your registration, the app needs two permissions.
perm-location-heading = Location
perm-location-why = Your location shows that you are in Moscow or Moscow Oblast. Without it no data arrives, and after three working days without location the registration is cancelled.
perm-notifications-heading = Notifications
perm-notifications-why = Notifications tell you when your location stops arriving, when a deadline is near, or when your registration changes.
perm-state-granted = Allowed
perm-state-prompt = Not asked yet
perm-state-denied = Blocked
perm-state-unsupported = Not available in this browser
perm-ask-button = Allow
perm-location-denied-help = Location is blocked. Open the phone's Settings → Apps → your browser → Permissions → Location and choose "Allow". Also turn on the location switch in the quick settings. Then come back and press "Check again".
perm-notifications-denied-help = Notifications are blocked. Open the phone's Settings → Apps → your browser → Notifications and turn them on; in the browser, open this site's settings and allow notifications.
perm-recheck-button = Check again
perm-back-button = Back
perm-warning = Some permissions are off. Check them.
push-on = Notifications are on.
push-unavailable = Notifications could not be turned on on this phone. Open the app every day.
checkin-label = App last opened

## Outside the pilot region for too long (integration.outside_working_days).
push-outside-title = You have been away from Moscow for a long time
push-outside-body = You have been outside Moscow and Moscow Oblast for a long time. Register your place of stay where you are now. When you come back, open the app.
