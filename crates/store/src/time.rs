//! Instants at the storage boundary. SQLite keeps UTC milliseconds as
//! INTEGER; PostgreSQL keeps `timestamptz` (microseconds). Fix times are
//! truncated to milliseconds when parsed, so both round-trip exactly.

use jiff::Timestamp;

use crate::StoreError;

pub fn to_ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

pub fn from_ms(ms: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_millisecond(ms)
        .map_err(|e| StoreError::Internal(format!("bad instant {ms}: {e}")))
}

pub fn to_system(t: Timestamp) -> std::time::SystemTime {
    // Every Timestamp this system produces (years 1970..2100) is
    // representable as a SystemTime on the platforms we run on.
    std::time::SystemTime::try_from(t).unwrap_or(std::time::SystemTime::UNIX_EPOCH)
}

pub fn from_system(t: std::time::SystemTime) -> Result<Timestamp, StoreError> {
    Timestamp::try_from(t).map_err(|e| StoreError::Internal(format!("bad instant: {e}")))
}
