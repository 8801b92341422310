//! Where "now" comes from. The domain never reads the clock; the shells ask
//! a [`Clock`], which tests replace with a [`ManualClock`] to cross
//! deadlines and holidays without waiting.

use std::sync::Mutex;

use jiff::{SignedDuration, Timestamp};

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

/// The system clock, truncated to milliseconds (the precision instants are
/// stored with on every backend).
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        truncate_ms(Timestamp::now())
    }
}

/// A clock that only moves when told to.
pub struct ManualClock(Mutex<Timestamp>);

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        ManualClock(Mutex::new(truncate_ms(start)))
    }
    pub fn set(&self, t: Timestamp) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = truncate_ms(t);
    }
    pub fn advance(&self, by: SignedDuration) {
        let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *t = truncate_ms(*t + by);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub fn truncate_ms(t: Timestamp) -> Timestamp {
    // Milliseconds of any representable Timestamp are representable.
    Timestamp::from_millisecond(t.as_millisecond()).unwrap_or(t)
}
