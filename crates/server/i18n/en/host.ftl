# Host parties in the console (ru and en): the host party's own pages and
# the migration officer's account pages.
role-host_party = host party
home-role-host_party = Your properties and who is registered there; arrival notices for minor children of the people you house.
nav-host-tenants = My properties
nav-host-children = Children's arrival
nav-host-parties = Host parties

host-tenants-title = My properties
host-tenants-intro = People whose place of stay in force is at one of your addresses. If someone does not live there, say so with a written statement: a migration officer will check it.
host-properties = Properties
host-no-properties = No properties are recorded for you. Ask the migration officer who created your account.
host-tenants = Registered at your addresses
host-no-tenants = Nobody is registered at your addresses.
host-card = Card
host-address = Address
host-since = Since
host-disputed = You reported that this person does not live here; a migration officer is checking it.
host-dispute-statement = This person does not live here. Your statement (required):
host-dispute-submit = Report: does not live here

host-children-title = Arrival of a child
host-children-intro = Minor children of enrolled people are not enrolled in the app: the host party notifies their arrival. The child is linked to the parent and is never tracked.
host-child-name = Child's full name
host-child-birth-date = Date of birth
host-child-citizenship = Citizenship (ISO code, e.g. UZB)
host-child-document = Identity document number
host-child-parent-card = Parent's foreign citizen card
host-child-arrival = Arrival date
host-child-submit = Notify arrival
host-children-filed = Notices you filed
host-child-filed-by = Filed by host party
host-child-state = State
host-child-in-force = in force
host-child-superseded = replaced by a later notice

host-parties-title = Host parties
host-parties-intro = A host party (a landlord, an employer providing housing) signs in like an officer and sees only their own properties and who is registered there. Check the person's identity document before creating the account.
host-account-name = Sign-in name
host-full-name = Full name
host-document = Identity document number
host-properties-ids = Properties: address register ids, one per line
host-create = Create account
host-created-title = Host party account created
host-created-intro = Hand these to the host party in person. They sign in at /console/login with the name, the password and a code from an authenticator app set up with the secret or the QR code.
host-initial-password = Initial password
host-totp-secret = TOTP secret
host-created-once = The password and the secret are shown this once and are not stored in clear.
host-open = Open the account
host-created-by = Created by
host-properties-save = Save properties

person-children = Children (arrival notices by host parties)
person-children-hint = Children are not tracked: no phone, no locations.

error-invalid_document = An identity document number is 4 to 30 letters and digits with at least one digit (spaces and '-' allowed).
error-invalid_person_name = Write the full name (at most 200 characters).
error-statement_required = A written statement is required. Nothing was changed.
error-invalid_properties = Properties are address register ids (letters, digits, '-', '_', '.', ':'), at most 200.
error-invalid_address_id = Choose one of your properties.
error-unknown_address = There is no such address in the register.
error-unknown_host_party = No such host party.
error-host_party_exists = A host party with this identity document exists.
error-unknown_property = One of the properties is not in the address register. Nothing was changed.
error-not_your_tenant = Nobody is registered under this number at your addresses.
error-dispute_open = You already reported this person at this address; the report is being checked.
error-child_not_minor = The child is 18 or older on the arrival date: only minors are notified by the host party. Nothing was stored.
error-child_born_after_arrival = The date of birth is after the arrival date.
error-parent_not_registered = No registration in force for this card: the parent must be enrolled and registered. Nothing was stored.
error-address_not_yours = The address is not one of your properties. Nothing was stored.
error-address_not_residential = The address is not residential.
error-address_outside_region = The address is not inside the pilot region.
error-date_before_registration = The arrival date is before the parent's registration started.
error-date_too_far_ahead = The arrival date is too far in the future.
error-date_before_current_notice = The arrival date is before the child's notice in force.
error-child_linked_to_other_parent = A child with this document is linked to another parent.
