## Place-of-stay notices, the address search and "My data".

# A date in words. $month: 1 … 12.
date-in-words = { $day } { $month ->
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
    } { $year }

# Main screen.
place-label = Place of stay
place-none = Not given
nav-stay = Place of stay
nav-mydata = My data
nav-help = Lost or broken phone?
back-button = Back

# Enrolment with a code from a migration centre.
code-heading = Code from the migration centre
code-intro = If an operator at the migration centre showed you a QR code, point your phone's camera at it. Or type the code here.
code-label = Code
code-button = Sign in with the code

# Place-of-stay notice.
stay-heading = Place of stay
stay-intro = Tell us where you live: the place where you regularly sleep and rest. The address is chosen from the address register. When you move, send a new notice.
stay-current-label = Given now
stay-search-label = Street and house
stay-search-hint = For example: Tverskaya 7 flat 12
stay-search-button = Search
stay-no-results = Nothing found. Check the street name and the house number.
stay-more-results = Not all addresses are shown. Add the house or flat number.
stay-non-residential = not residential
stay-chosen-label = Chosen address
stay-date-label = Living here since
stay-host-label = Host party (if any)
stay-submit = Send the notice
stay-sent = The notice has been accepted.
stay-same = This notice had already been accepted.
stay-choose-first = First search for the address and choose it.
stay-history-heading = Your notices
stay-history-empty = No notices yet.
notice-state-current = In force
notice-state-superseded = Replaced by a newer one
notice-state-ended = The registration ended
notice-from = from
notice-sent = sent
notice-host = Host party
flat-short = flat

# Errors of notices and codes.
error-unknown_address = This address is not in the register. Search for it again.
error-invalid_address_id = The address is wrong. Search for it again.
error-address_not_residential = These premises are not residential. Give a home address where you sleep and rest.
error-address_outside_region = This address is not in Moscow or Moscow Oblast. If you moved to another region, register there the ordinary way.
error-date_before_registration = This date is before your registration started. Choose a later date.
error-date_too_far_ahead = This date is too far ahead. Choose a date closer to today.
error-date_before_current_notice = This date is before the date of the notice in force. Choose the same or a later date.
error-not_registered = You are not registered now. Sign in again first.
error-invalid_date = Choose a date.
error-invalid_host_name = The host party's name is too long.
error-query_too_short = Type at least two letters of the street name.
error-query_too_long = The search is too long. Type only the street and the house.
error-invalid_enrolment_code = A code is 10 letters and digits, for example 7KQ2M-9XH4D. Check it.
error-enrolment_code_unknown = There is no such code. Check it or ask the operator for a new one.
error-enrolment_code_expired = The code has expired. Ask the operator for a new one.
error-enrolment_code_used = This code has already been used. Ask the operator for a new one.
error-enrolment_code_superseded = A newer code was issued for your card. Use that one.

# My data.
mydata-heading = My data
mydata-intro = Everything the system holds about you.
mydata-identity = Card details
mydata-card = Card number
mydata-name = Name
mydata-citizenship = Citizenship
mydata-birth = Date of birth
mydata-valid = Card valid until
mydata-registrations = Registrations
mydata-active = in force
mydata-devices = Phones
mydata-device-active = Working
mydata-device-revoked = Switched off
mydata-device-this = this phone
mydata-bound = connected
mydata-revoked = switched off
mydata-until = until
mydata-notices = Place-of-stay notices
mydata-locations = Locations
mydata-locations-count = Locations stored
mydata-locations-period = First and last
mydata-retention = Kept for, days
mydata-retention-note = Automatic deletion of old locations is not switched on yet: for now all of them are kept.
mydata-signals = Marks for review
mydata-signals-none = No marks.
mydata-signals-note = A mark is not a violation and not a penalty. An officer checks it.
signal-kind-outside_region = Phone outside the region
signal-kind-outside_too_long = Outside the region for long
signal-kind-push_subscription_gone = Notifications switched off on the phone
signal-kind-app_probably_removed = The app may have been removed
signal-kind-stationary_device = The phone has not moved for long
signal-kind-spoofed_location = Location may be faked
signal-kind-lives_elsewhere = Sleeps away from the given address
signal-kind-fictitious_address = Address check
signal-status-open = waiting for review
signal-status-in_review = being reviewed
signal-status-dismissed = dismissed
signal-status-confirmed = confirmed
mydata-accesses = Who looked at your data
mydata-accesses-none = Officials' accesses to your data are not recorded yet. Once they are, every access will be listed here: who, when and on what legal basis.
mydata-none = none

# Lost phone.
help-heading = Lost or broken phone?
help-intro = Your registration is not lost with your phone. Connect a new phone in one of two ways.
help-centre = At a migration centre (for example, Sakharovo): an operator checks your card and shows a QR code. Point the new phone's camera at it, or type the code in the app. The code works for 10 minutes and only once.
help-self = By yourself: open the app on the new phone and sign in with your card number and activation code.
help-revoke = The old phone is switched off at once: it can no longer send locations. This protects you if the phone is in someone else's hands.
help-deadline = Do this before the deadline shown on the main screen, or your registration will end.

## Who looked at your data (from the audit trail)
mydata-accesses-empty = No official has accessed your data.
mydata-role-enrolment_operator = migration centre operator
mydata-role-migration_officer = migration officer
mydata-role-police_officer = police officer
mydata-role-supervisor = supervisor
mydata-role-auditor = auditor
mydata-role-admin = administrator
mydata-access-view = viewed your data
mydata-access-case = a case about you
mydata-access-location = viewed your location
mydata-access-decision = a decision about you
mydata-access-other = other action
mydata-legal-basis = legal basis

## Host parties: children's arrival notices and disputes.
signal-kind-address_disputed = The host party says you do not live at the address
mydata-role-host_party = host party (landlord)
mydata-children = Children (arrival notified by the host party)
mydata-children-arrived = arrived
mydata-children-none = No children are recorded.
