//! Moscow civil time.
//!
//! DESIGN.md: all rule arithmetic is in Europe/Moscow (UTC+3, no DST since
//! 2014); instants are stored in UTC. The zone comes from the tz database
//! bundled into the binary, so the answer does not depend on the host's
//! `/usr/share/zoneinfo`.

use std::sync::OnceLock;

use jiff::{civil::Date, tz::TimeZone, Timestamp};

/// The Europe/Moscow time zone.
pub fn moscow() -> &'static TimeZone {
    static MOSCOW: OnceLock<TimeZone> = OnceLock::new();
    MOSCOW.get_or_init(|| {
        // The bundled tz database always contains Europe/Moscow (feature
        // `tzdb-bundle-always`), so this cannot fail at run time.
        TimeZone::get("Europe/Moscow").expect("bundled tzdb has Europe/Moscow")
    })
}

/// The Moscow calendar day on which `instant` falls.
pub fn moscow_date(instant: Timestamp) -> Date {
    moscow().to_datetime(instant).date()
}
