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

/// The instant of a Moscow wall-clock time (Moscow has no DST since 2014,
/// so every wall-clock time names exactly one instant).
pub fn moscow_instant(wall: jiff::civil::DateTime) -> Result<Timestamp, jiff::Error> {
    Ok(wall.to_zoned_datetime(moscow().clone())?.timestamp())
}

/// Parse `YYYY-MM-DDTHH:MM[:SS[.fff]]` as Moscow wall-clock time; for
/// operator input and tests.
pub fn parse_moscow(s: &str) -> Result<Timestamp, jiff::Error> {
    moscow_instant(s.parse()?)
}

/// `instant` as Moscow wall-clock time with offset and milliseconds,
/// e.g. `2025-12-03T23:59:59.999+03:00`: how deadlines are shown.
pub fn format_moscow(instant: Timestamp) -> String {
    moscow()
        .to_datetime(instant)
        .strftime("%Y-%m-%dT%H:%M:%S%.3f+03:00")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moscow_is_utc_plus_three_all_year() {
        for (wall, utc) in [
            ("2025-01-15T00:30:00", "2025-01-14T21:30:00Z"),
            ("2025-07-15T23:59:59.999", "2025-07-15T20:59:59.999Z"),
        ] {
            let t = parse_moscow(wall).unwrap();
            assert_eq!(t.to_string(), utc);
        }
        let t: Timestamp = "2025-12-03T20:59:59.999Z".parse().unwrap();
        assert_eq!(format_moscow(t), "2025-12-03T23:59:59.999+03:00");
        assert_eq!(
            moscow_date("2025-12-01T21:30:00Z".parse().unwrap()).to_string(),
            "2025-12-02"
        );
        assert!(parse_moscow("2025-13-01T00:00").is_err());
    }
}
