//! Retention of raw locations: fixes older than the configured period are
//! reduced to one summary per person and Moscow day.
//!
//! Why a daily summary and not plain deletion: the registration history
//! must stay explainable after the raw points are gone (was the person
//! monitored that day, from when to when, in the region or outside, were
//! fixes flagged), both for an officer reviewing an old decision and for
//! the person's own "my data". Why no coordinates in it: a summary that
//! kept a position per day would be a coarse track kept forever, which is
//! what retention exists to prevent. The zone counts say "in the region or
//! not", which is what the rules decide on.
//!
//! The cut-off is the start of a Moscow day, so a day is never split
//! between raw fixes and its summary.

use std::collections::BTreeMap;

use jiff::civil::Date;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::time::{moscow_date, moscow_instant};

/// Zone slugs that are not inside the pilot region.
pub const OUTSIDE: &str = "outside";
pub const UNCERTAIN: &str = "uncertain";

/// What retention needs of a stored fix.
#[derive(Debug, Clone, PartialEq)]
pub struct RetainedFix {
    pub recorded_at: Timestamp,
    /// The geofence zone slug the fix was classified in.
    pub zone: String,
    /// Flagged as implausible (mock location or impossible speed).
    pub flagged: bool,
    /// Counted towards the monitoring window.
    pub counted: bool,
}

/// One person's presence on one Moscow day, kept after the raw fixes are
/// deleted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DaySummary {
    /// The Moscow calendar day.
    pub day: Date,
    pub first_at: Timestamp,
    pub last_at: Timestamp,
    pub fix_count: u64,
    pub flagged_count: u64,
    pub counted_count: u64,
    /// Fixes per zone slug (pilot region slugs, `outside`, `uncertain`).
    pub zones: BTreeMap<String, u64>,
}

impl DaySummary {
    /// Fixes inside the pilot region (any zone but outside and uncertain).
    pub fn in_region_count(&self) -> u64 {
        self.zones
            .iter()
            .filter(|(z, _)| z.as_str() != OUTSIDE && z.as_str() != UNCERTAIN)
            .map(|(_, n)| n)
            .sum()
    }

    /// The summary of both days' fixes (the same day, reduced in two runs:
    /// a fix that arrived late, after its day had been reduced).
    pub fn merge(&self, other: &DaySummary) -> DaySummary {
        let mut zones = self.zones.clone();
        for (z, n) in &other.zones {
            *zones.entry(z.clone()).or_default() += n;
        }
        DaySummary {
            day: self.day,
            first_at: self.first_at.min(other.first_at),
            last_at: self.last_at.max(other.last_at),
            fix_count: self.fix_count + other.fix_count,
            flagged_count: self.flagged_count + other.flagged_count,
            counted_count: self.counted_count + other.counted_count,
            zones,
        }
    }
}

/// The first instant whose fixes are kept raw at `now`: the start (00:00
/// Moscow) of the day `keep_days` days before today. Fixes recorded before
/// it are reduced. `keep_days` of 0 keeps today only.
pub fn cutoff(now: Timestamp, keep_days: u32) -> Result<Timestamp, jiff::Error> {
    let day = moscow_date(now).checked_sub(jiff::Span::new().days(i64::from(keep_days)))?;
    moscow_instant(day.to_datetime(jiff::civil::time(0, 0, 0, 0)))
}

/// One summary per Moscow day of `fixes` (any order), oldest day first.
pub fn summarise(fixes: &[RetainedFix]) -> Vec<DaySummary> {
    let mut days: BTreeMap<Date, DaySummary> = BTreeMap::new();
    for f in fixes {
        let day = moscow_date(f.recorded_at);
        let one = DaySummary {
            day,
            first_at: f.recorded_at,
            last_at: f.recorded_at,
            fix_count: 1,
            flagged_count: u64::from(f.flagged),
            counted_count: u64::from(f.counted),
            zones: BTreeMap::from([(f.zone.clone(), 1)]),
        };
        let merged = match days.get(&day) {
            Some(s) => s.merge(&one),
            None => one,
        };
        days.insert(day, merged);
    }
    days.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_moscow;

    fn fix(at: &str, zone: &str, flagged: bool) -> RetainedFix {
        RetainedFix {
            recorded_at: parse_moscow(at).unwrap(),
            zone: zone.into(),
            flagged,
            counted: !flagged,
        }
    }

    #[test]
    fn cutoff_is_the_start_of_a_moscow_day() {
        // 02:30 Moscow on 1 March is still 28 February 23:30 UTC.
        let now = parse_moscow("2026-03-01T02:30:00").unwrap();
        assert_eq!(
            cutoff(now, 90).unwrap(),
            parse_moscow("2025-12-01T00:00:00").unwrap()
        );
        assert_eq!(
            cutoff(now, 0).unwrap(),
            parse_moscow("2026-03-01T00:00:00").unwrap()
        );
    }

    #[test]
    fn fixes_are_summarised_per_moscow_day() {
        let fixes = vec![
            fix("2025-11-02T23:59:00", "outside", false),
            fix("2025-11-02T08:00:00", "moscow", false),
            fix("2025-11-02T12:00:00", "moscow_oblast", true),
            // 00:30 Moscow is 21:30 UTC the day before: still 3 November here.
            fix("2025-11-03T00:30:00", "uncertain", false),
        ];
        let s = summarise(&fixes);
        assert_eq!(s.len(), 2);
        let d = &s[0];
        assert_eq!(d.day, jiff::civil::date(2025, 11, 2));
        assert_eq!(d.first_at, parse_moscow("2025-11-02T08:00:00").unwrap());
        assert_eq!(d.last_at, parse_moscow("2025-11-02T23:59:00").unwrap());
        assert_eq!((d.fix_count, d.flagged_count, d.counted_count), (3, 1, 2));
        assert_eq!(d.in_region_count(), 2);
        assert_eq!(d.zones.get("outside"), Some(&1));
        assert_eq!(s[1].day, jiff::civil::date(2025, 11, 3));
        assert_eq!(s[1].in_region_count(), 0);
    }

    #[test]
    fn merging_two_runs_equals_one_run() {
        let a = vec![
            fix("2025-11-02T08:00:00", "moscow", false),
            fix("2025-11-02T09:00:00", "moscow", false),
        ];
        let b = vec![fix("2025-11-02T07:00:00", "outside", true)];
        let all: Vec<_> = a.iter().chain(&b).cloned().collect();
        assert_eq!(
            summarise(&a)[0].merge(&summarise(&b)[0]),
            summarise(&all)[0]
        );
    }
}
