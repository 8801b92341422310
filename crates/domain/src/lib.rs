//! amina's domain core: the rules the system must get exactly right.
//!
//! Nothing in this crate knows about HTTP, SQL or the wall clock. Time comes
//! in as a value ([`jiff::Timestamp`]), data (calendar, region polygons) comes
//! in as parsed values, and every function answers from its inputs alone. The
//! server, the storage backends and the CLI are thin shells around it.
//!
//! - [`calendar`]: the Russian production calendar (working days).
//! - [`rule`]: the monitoring window ("three working days") and its deadline.
//! - [`geofence`]: inside/outside the pilot region on the real boundaries.
//! - [`monitor`]: what a batch of fixes does to a person's registration, and
//!   when a registration is overdue.
//! - [`detection`]: home location, fictitious addresses, evasion signals,
//!   anomaly score: explained evidence for review.
//! - [`eligibility`]: who is in scope of the pilot.
//! - [`console`]: console roles and what decisions and cases must state.
//! - [`host`]: host parties: children's arrival notices, disputes.
//! - [`names`]: name matching across Cyrillic and Latin transliterations.
//! - [`enrolment_code`]: one-time codes for operator-assisted enrolment.
//! - [`signal`]: observations for human review (kinds, review states).
//! - [`stay`]: the address register and place-of-stay notices.
//! - [`reminders`]: which push notices a person is due (causes of missing
//!   data, deadline warnings, check-in reminders), with quiet hours.
//! - [`staypoints`]: where a person stayed (Li et al. 2008 / trackintel's
//!   sliding method), the base of the detection signals.
//! - [`integration`]: events from the federal migration system and what
//!   each does here (in time order), and the "outside too long" rule.
//! - [`types`]: parsed values from the outside world (coordinates, accuracy, …).
//! - [`time`]: Moscow civil time, in which all rule arithmetic happens.

pub mod calendar;
pub mod console;
pub mod detection;
pub mod eligibility;
pub mod enrolment_code;
pub mod geofence;
pub mod host;
pub mod integration;
pub mod monitor;
pub mod names;
pub mod reminders;
pub mod retention;
pub mod rule;
pub mod signal;
pub mod stay;
pub mod staypoints;
pub mod time;
pub mod types;
