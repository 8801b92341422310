//! The Russian production calendar: which civil dates are working days.
//!
//! Why a calendar and not a rule of thumb: the deregistration deadline is
//! counted in *working* days (DESIGN.md, "The three-working-day rule"), and
//! in Russia these are not simply Monday–Friday. Public holidays, days off
//! moved by government decree (e.g. 2 May 2025 instead of 4 January) and
//! working Saturdays (e.g. 1 November 2025) change from year to year. Over
//! the New Year holidays a "three working day" window lasts two weeks. A
//! wrong answer deregisters a person who did nothing wrong, so:
//!
//! - the calendar is **data** (`data/calendar/ru-production-calendar.json`,
//!   format `ru-production-calendar/1`), embedded in the binary and
//!   extendable by an admin with a file in the same format, without a release;
//! - a date in a year that is not loaded is an error
//!   ([`CalendarError::OutOfRange`]), **never a guess**;
//! - loading validates the file hard (completeness of every year, weekdays of
//!   the kinds, the stated yearly totals), because a silently missing weekend
//!   would turn a Saturday into a working day.
//!
//! A date is non-working if and only if it is listed with kind `holiday`,
//! `transfer_day_off` or `weekend`; every other date, listed or not, is a
//! working day. Dates are civil dates, read in Europe/Moscow.
//!
//! Each loaded year is a 366-bit set of non-working days indexed by day of
//! the year, so [`ProductionCalendar::is_working_day`] is O(1) and counting
//! working days over a range is a few popcounts per year.

use std::collections::BTreeMap;
use std::fmt;

use jiff::civil::{Date, Weekday};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;

/// The only file format this module reads.
pub const FORMAT: &str = "ru-production-calendar/1";

/// The calendar shipped with the binary (see `data/calendar/PROVENANCE.md`).
const EMBEDDED_JSON: &str = include_str!("../../../data/calendar/ru-production-calendar.json");

/// Why a calendar could not be loaded or could not answer.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum CalendarError {
    /// The date lies in a year that is not loaded. `first_year` and
    /// `last_year` are the first and last loaded years (years in between may
    /// be missing too, if an admin loaded non-contiguous years).
    #[error(
        "date {date} outside the loaded production calendar \
         (loaded years {first_year}..={last_year})"
    )]
    OutOfRange {
        date: Date,
        first_year: i16,
        last_year: i16,
    },
    /// The document is not valid JSON or lacks a required field, or a value
    /// has the wrong shape.
    #[error("production calendar: malformed document: {0}")]
    Format(String),
    /// The `format` field names a format this code does not read.
    #[error("production calendar: unsupported format {found:?}, expected {FORMAT:?}")]
    UnsupportedFormat { found: String },
    /// A listed day has a kind this code does not know.
    #[error("production calendar: {date} has unknown kind {kind:?}")]
    UnknownKind { date: Date, kind: String },
    /// A listed date does not belong to the year it is listed under.
    #[error("production calendar: {date} is listed under year {year}")]
    WrongYear { date: Date, year: i16 },
    /// A kind is listed on a day of the week it cannot fall on (e.g. a
    /// `weekend` on a Tuesday, a `transfer_day_off` on a Saturday).
    #[error("production calendar: {date} is a {weekday:?} and cannot be of kind {kind:?}")]
    WrongWeekday {
        date: Date,
        weekday: Weekday,
        kind: String,
    },
    /// The same date is listed with contradicting or repeated kinds.
    #[error("production calendar: {date} is listed as both {first:?} and {second:?}")]
    Conflict {
        date: Date,
        first: String,
        second: String,
    },
    /// A year is incomplete: a Saturday or Sunday is not listed, so whether
    /// it is a day off is unknown.
    #[error(
        "production calendar: year {year} is incomplete: {date} is a Saturday or \
         Sunday but is listed neither as weekend, holiday nor working_weekend"
    )]
    Incomplete { year: i16, date: Date },
    /// A year's stated totals disagree with its list of days.
    #[error(
        "production calendar: year {year} states {field} = {stated}, \
         but its list of days gives {computed}"
    )]
    TotalsMismatch {
        year: i16,
        field: &'static str,
        stated: u32,
        computed: u32,
    },
    /// The same year appears twice in one document.
    #[error("production calendar: year {year} appears twice in the document")]
    DuplicateYear { year: i16 },
    /// A year being added is already loaded with different days.
    #[error("production calendar: year {year} is already loaded with different days")]
    Overlap { year: i16 },
    /// A range whose start is after its end.
    #[error("invalid date range: {from} is after {to}")]
    InvalidRange { from: Date, to: Date },
    /// A count of days that must be at least 1 was 0.
    #[error("a count of days must be at least 1")]
    ZeroCount,
    /// Date arithmetic left the range of representable dates.
    #[error("counting {days} days from {from} leaves the range of representable dates")]
    DateOverflow { from: Date, days: u32 },
}

/// The non-working days of one loaded year.
#[derive(Debug, Clone, PartialEq, Eq)]
struct YearCalendar {
    /// Bit `day_of_year - 1` is set iff that day is non-working.
    non_working: [u64; 6],
    /// 365 or 366.
    days_in_year: u16,
}

impl YearCalendar {
    fn is_non_working(&self, day_index: usize) -> bool {
        self.non_working[day_index / 64] & (1u64 << (day_index % 64)) != 0
    }

    /// Number of non-working days with index in `lo..=hi` (0-based).
    fn non_working_in(&self, lo: usize, hi: usize) -> u32 {
        debug_assert!(lo <= hi && hi < usize::from(self.days_in_year));
        let mut total = 0;
        for (w, word) in self.non_working.iter().enumerate() {
            let base = w * 64;
            if base > hi || base + 63 < lo {
                continue;
            }
            let from = lo.saturating_sub(base);
            let to = (hi - base).min(63);
            let width = to - from + 1; // 1..=64
            let mask = (u64::MAX >> (64 - width)) << from;
            total += (word & mask).count_ones();
        }
        total
    }

    /// Number of working days with index in `lo..=hi` (0-based).
    fn working_in(&self, lo: usize, hi: usize) -> u32 {
        let span = u32::try_from(hi - lo + 1).expect("at most 366 days in a year");
        span - self.non_working_in(lo, hi)
    }

    fn working_days(&self) -> u32 {
        self.working_in(0, usize::from(self.days_in_year) - 1)
    }
}

/// Index of `date` in its year's bit set.
fn day_index(date: Date) -> usize {
    // `day_of_year` is 1..=366 for every valid date.
    usize::try_from(date.day_of_year() - 1).expect("day_of_year is at least 1")
}

/// The Russian production calendar for the loaded years.
///
/// Always holds at least one year. Cheap to clone (a few dozen bytes per
/// year).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductionCalendar {
    /// The first loaded year; `years[i]` is year `first_year + i`.
    first_year: i16,
    /// Non-empty; the first and last entries are `Some`.
    years: Vec<Option<YearCalendar>>,
}

impl ProductionCalendar {
    /// Parses and validates a document in format `ru-production-calendar/1`.
    ///
    /// Validation: the `format` string; each year key is a year, each listed
    /// date belongs to its year and is a canonical `YYYY-MM-DD` date; each
    /// kind is known and falls on a possible day of the week; no date is
    /// listed with contradicting kinds; every Saturday and Sunday is listed
    /// (as `weekend`, `holiday` or `working_weekend`), so a year is complete;
    /// the year's `totals` (`calendar_days`, `working_days`,
    /// `non_working_days`) agree with the list; the document holds at least
    /// one year and no year twice.
    pub fn from_json(json: &str) -> Result<Self, CalendarError> {
        // Check the format first, so a document in some future format gets
        // "unsupported format" rather than a confusing shape error.
        let header: RawHeader =
            serde_json::from_str(json).map_err(|e| CalendarError::Format(e.to_string()))?;
        if header.format != FORMAT {
            return Err(CalendarError::UnsupportedFormat {
                found: header.format,
            });
        }
        let raw: RawCalendar =
            serde_json::from_str(json).map_err(|e| CalendarError::Format(e.to_string()))?;

        let mut years = BTreeMap::new();
        for (key, raw_year) in raw.years.0 {
            let year = parse_year(&key)?;
            let parsed = parse_year_calendar(year, &raw_year)?;
            if years.insert(year, parsed).is_some() {
                return Err(CalendarError::DuplicateYear { year });
            }
        }
        if years.is_empty() {
            return Err(CalendarError::Format("the document holds no years".into()));
        }
        Ok(Self::from_map(years))
    }

    /// The calendar shipped with the binary: 2024–2027, from
    /// `data/calendar/ru-production-calendar.json`. Parses and validates
    /// the file on every call: load it once at start and share it.
    pub fn embedded() -> Self {
        // The embedded file is part of the source tree and is validated by
        // the test suite (`embedded_calendar_loads`), so this cannot fail in
        // a build that passed its tests.
        Self::from_json(EMBEDDED_JSON).expect("the embedded production calendar is valid")
    }

    /// Adds the years of `other`. A year loaded in both must be identical
    /// (same non-working days), else [`CalendarError::Overlap`]; on error
    /// `self` is unchanged.
    pub fn extend(&mut self, other: ProductionCalendar) -> Result<(), CalendarError> {
        let mut merged = self.to_map();
        for (year, cal) in other.into_map() {
            match merged.get(&year) {
                Some(existing) if *existing != cal => {
                    return Err(CalendarError::Overlap { year });
                }
                Some(_) => {}
                None => {
                    merged.insert(year, cal);
                }
            }
        }
        *self = Self::from_map(merged);
        Ok(())
    }

    /// The loaded years, ascending.
    pub fn years(&self) -> Vec<i16> {
        (self.first_year..)
            .zip(&self.years)
            .filter(|(_, cal)| cal.is_some())
            .map(|(year, _)| year)
            .collect()
    }

    /// The first loaded year.
    pub fn first_year(&self) -> i16 {
        self.first_year
    }

    /// The last loaded year.
    pub fn last_year(&self) -> i16 {
        let len = i16::try_from(self.years.len()).expect("years span fits the i16 year range");
        self.first_year + len - 1
    }

    /// Whether `date`'s year is loaded.
    pub fn covers(&self, date: Date) -> bool {
        self.year(date.year()).is_some()
    }

    /// Whether `date` is a working day; [`CalendarError::OutOfRange`] if its
    /// year is not loaded.
    pub fn is_working_day(&self, date: Date) -> Result<bool, CalendarError> {
        let cal = self.year_or_err(date.year(), date)?;
        Ok(!cal.is_non_working(day_index(date)))
    }

    /// Number of working days in `from..=to` (both ends included).
    ///
    /// [`CalendarError::InvalidRange`] if `from > to`;
    /// [`CalendarError::OutOfRange`] (naming the first uncovered date) if any
    /// date of the range lies in a year that is not loaded.
    pub fn working_days_between(&self, from: Date, to: Date) -> Result<u32, CalendarError> {
        if from > to {
            return Err(CalendarError::InvalidRange { from, to });
        }
        let mut total = 0;
        for year in from.year()..=to.year() {
            let first_date = if year == from.year() {
                from
            } else {
                Date::new(year, 1, 1).expect("1 January of a year between two valid dates")
            };
            let cal = self.year_or_err(year, first_date)?;
            let lo = day_index(first_date);
            let hi = if year == to.year() {
                day_index(to)
            } else {
                usize::from(cal.days_in_year) - 1
            };
            total += cal.working_in(lo, hi);
        }
        Ok(total)
    }

    /// The `n`-th working day strictly after `date` (`n >= 1`, else
    /// [`CalendarError::ZeroCount`]).
    ///
    /// `date` itself need not be covered (its own kind does not matter), but
    /// every date after it up to the answer must be, else
    /// [`CalendarError::OutOfRange`].
    pub fn nth_working_day_after(&self, date: Date, n: u32) -> Result<Date, CalendarError> {
        if n == 0 {
            return Err(CalendarError::ZeroCount);
        }
        let mut remaining = n;
        let mut day = date;
        loop {
            day = day.tomorrow().map_err(|_| CalendarError::DateOverflow {
                from: date,
                days: n,
            })?;
            if self.is_working_day(day)? {
                remaining -= 1;
                if remaining == 0 {
                    return Ok(day);
                }
            }
        }
    }

    /// Number of working days in `year` (the year's official total, e.g. 247
    /// for 2025); [`CalendarError::OutOfRange`] if the year is not loaded.
    pub fn working_days_in_year(&self, year: i16) -> Result<u32, CalendarError> {
        let first = Date::new(year, 1, 1).map_err(|e| CalendarError::Format(e.to_string()))?;
        Ok(self.year_or_err(year, first)?.working_days())
    }

    fn year(&self, year: i16) -> Option<&YearCalendar> {
        let offset = i32::from(year) - i32::from(self.first_year);
        let index = usize::try_from(offset).ok()?;
        self.years.get(index)?.as_ref()
    }

    fn year_or_err(&self, year: i16, date: Date) -> Result<&YearCalendar, CalendarError> {
        self.year(year).ok_or(CalendarError::OutOfRange {
            date,
            first_year: self.first_year(),
            last_year: self.last_year(),
        })
    }

    fn to_map(&self) -> BTreeMap<i16, YearCalendar> {
        self.clone().into_map()
    }

    fn into_map(self) -> BTreeMap<i16, YearCalendar> {
        (self.first_year..)
            .zip(self.years)
            .filter_map(|(year, cal)| cal.map(|cal| (year, cal)))
            .collect()
    }

    /// Builds the dense representation. `years` must not be empty.
    fn from_map(years: BTreeMap<i16, YearCalendar>) -> Self {
        let (&first_year, _) = years
            .first_key_value()
            .expect("callers pass at least one year");
        let (&last_year, _) = years
            .last_key_value()
            .expect("callers pass at least one year");
        let len = usize::try_from(i32::from(last_year) - i32::from(first_year) + 1)
            .expect("last year >= first year");
        let mut dense = vec![None; len];
        for (year, cal) in years {
            let index = usize::try_from(i32::from(year) - i32::from(first_year))
                .expect("every year >= first year");
            dense[index] = Some(cal);
        }
        Self {
            first_year,
            years: dense,
        }
    }
}

// ---------------------------------------------------------------------------
// Parsing and validation of the JSON document.

#[derive(Deserialize)]
struct RawHeader {
    format: String,
}

#[derive(Deserialize)]
struct RawCalendar {
    years: RawYears,
}

/// The `years` object, keeping repeated keys so they can be rejected
/// (a plain map would silently keep the last copy).
struct RawYears(Vec<(String, RawYear)>);

impl<'de> Deserialize<'de> for RawYears {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct YearsVisitor;
        impl<'de> Visitor<'de> for YearsVisitor {
            type Value = RawYears;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object mapping years to their days")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawYears, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, RawYear>()? {
                    entries.push(entry);
                }
                Ok(RawYears(entries))
            }
        }
        deserializer.deserialize_map(YearsVisitor)
    }
}

#[derive(Deserialize)]
struct RawYear {
    totals: RawTotals,
    days: Vec<RawDay>,
}

#[derive(Deserialize)]
struct RawTotals {
    calendar_days: u32,
    working_days: u32,
    non_working_days: u32,
}

#[derive(Deserialize)]
struct RawDay {
    date: String,
    kind: String,
}

/// A listed day's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Holiday,
    TransferDayOff,
    Weekend,
    WorkingWeekend,
    PreholidayShort,
}

impl Kind {
    fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "holiday" => Kind::Holiday,
            "transfer_day_off" => Kind::TransferDayOff,
            "weekend" => Kind::Weekend,
            "working_weekend" => Kind::WorkingWeekend,
            "preholiday_short" => Kind::PreholidayShort,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Holiday => "holiday",
            Kind::TransferDayOff => "transfer_day_off",
            Kind::Weekend => "weekend",
            Kind::WorkingWeekend => "working_weekend",
            Kind::PreholidayShort => "preholiday_short",
        }
    }

    fn is_non_working(self) -> bool {
        matches!(self, Kind::Holiday | Kind::TransferDayOff | Kind::Weekend)
    }

    /// Whether this kind can fall on `weekday`.
    fn allowed_on(self, weekday: Weekday) -> bool {
        let weekend = matches!(weekday, Weekday::Saturday | Weekday::Sunday);
        match self {
            Kind::Weekend | Kind::WorkingWeekend => weekend,
            Kind::TransferDayOff => !weekend,
            Kind::Holiday | Kind::PreholidayShort => true,
        }
    }
}

fn parse_year(key: &str) -> Result<i16, CalendarError> {
    let bad = || CalendarError::Format(format!("{key:?} is not a year"));
    let year: i16 = key.parse().map_err(|_| bad())?;
    // Canonical spelling only ("2025", not "+2025" or "02025"), and a year
    // whose dates can be represented.
    if year.to_string() != key || Date::new(year, 1, 1).is_err() {
        return Err(bad());
    }
    Ok(year)
}

fn parse_date(s: &str) -> Result<Date, CalendarError> {
    let bad = || CalendarError::Format(format!("{s:?} is not a YYYY-MM-DD date"));
    let date: Date = s.parse().map_err(|_| bad())?;
    // jiff also accepts e.g. a datetime and drops the time; insist on the
    // plain canonical date.
    if date.to_string() != s {
        return Err(bad());
    }
    Ok(date)
}

fn parse_year_calendar(year: i16, raw: &RawYear) -> Result<YearCalendar, CalendarError> {
    let first = Date::new(year, 1, 1).expect("parse_year checked the year");
    let days_in_year = usize::try_from(first.days_in_year()).expect("365 or 366");

    // Per day of the year: its status kind (everything except
    // preholiday_short) and whether it is shortened.
    let mut status: Vec<Option<Kind>> = vec![None; days_in_year];
    let mut shortened = vec![false; days_in_year];

    for day in &raw.days {
        let date = parse_date(&day.date)?;
        if date.year() != year {
            return Err(CalendarError::WrongYear { date, year });
        }
        let kind = Kind::parse(&day.kind).ok_or_else(|| CalendarError::UnknownKind {
            date,
            kind: day.kind.clone(),
        })?;
        if !kind.allowed_on(date.weekday()) {
            return Err(CalendarError::WrongWeekday {
                date,
                weekday: date.weekday(),
                kind: kind.name().to_owned(),
            });
        }
        let conflict = |first: Kind| CalendarError::Conflict {
            date,
            first: first.name().to_owned(),
            second: kind.name().to_owned(),
        };
        let index = day_index(date);
        if kind == Kind::PreholidayShort {
            if shortened[index] {
                return Err(conflict(kind));
            }
            shortened[index] = true;
        } else {
            if let Some(previous) = status[index] {
                return Err(conflict(previous));
            }
            status[index] = Some(kind);
        }
        // A shortened day is a working day by definition.
        if let (true, Some(s)) = (shortened[index], status[index]) {
            if s.is_non_working() {
                return Err(CalendarError::Conflict {
                    date,
                    first: s.name().to_owned(),
                    second: Kind::PreholidayShort.name().to_owned(),
                });
            }
        }
    }

    let mut non_working = [0u64; 6];
    let mut date = first;
    for (index, kind) in status.iter().enumerate() {
        let weekend = matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday);
        if weekend && kind.is_none() {
            return Err(CalendarError::Incomplete { year, date });
        }
        if kind.is_some_and(Kind::is_non_working) {
            non_working[index / 64] |= 1u64 << (index % 64);
        }
        if index + 1 < days_in_year {
            date = date.tomorrow().expect("a later day of the same valid year");
        }
    }

    let cal = YearCalendar {
        non_working,
        days_in_year: u16::try_from(days_in_year).expect("365 or 366"),
    };
    let calendar_days = u32::from(cal.days_in_year);
    let working_days = cal.working_days();
    let checks = [
        ("calendar_days", raw.totals.calendar_days, calendar_days),
        ("working_days", raw.totals.working_days, working_days),
        (
            "non_working_days",
            raw.totals.non_working_days,
            calendar_days - working_days,
        ),
    ];
    for (field, stated, computed) in checks {
        if stated != computed {
            return Err(CalendarError::TotalsMismatch {
                year,
                field,
                stated,
                computed,
            });
        }
    }
    Ok(cal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn embedded_calendar_loads() {
        let cal = ProductionCalendar::from_json(EMBEDDED_JSON);
        assert!(cal.is_ok(), "{cal:?}");
    }

    #[test]
    fn bit_range_counts_match_a_naive_count() {
        // A year whose non-working set is an irregular pattern that crosses
        // every word boundary.
        let mut cal = YearCalendar {
            non_working: [0; 6],
            days_in_year: 366,
        };
        for i in (0..366).filter(|i| i % 3 == 0 || i % 7 == 5) {
            cal.non_working[i / 64] |= 1 << (i % 64);
        }
        for lo in 0..366 {
            for hi in lo..366 {
                let naive = (lo..=hi).filter(|&i| cal.is_non_working(i)).count();
                assert_eq!(cal.non_working_in(lo, hi) as usize, naive, "{lo}..={hi}");
            }
        }
    }

    /// A valid one-year document in which only Saturdays and Sundays are off.
    fn weekends_only_json(year: i16) -> String {
        let mut day = date(year, 1, 1);
        let mut days = Vec::new();
        while day.year() == year {
            if matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday) {
                days.push(format!(r#"{{"date": "{day}", "kind": "weekend"}}"#));
            }
            day = day.tomorrow().expect("not near the end of time");
        }
        let total = day
            .yesterday()
            .expect("not near the start of time")
            .day_of_year();
        format!(
            r#"{{"format": "{FORMAT}", "years": {{"{year}": {{
                "totals": {{"calendar_days": {total}, "working_days": {}, "non_working_days": {}}},
                "days": [{}]}}}}}}"#,
            total as usize - days.len(),
            days.len(),
            days.join(", ")
        )
    }

    #[test]
    fn gaps_between_loaded_years_are_out_of_range() {
        let mut cal = ProductionCalendar::embedded();
        let far = ProductionCalendar::from_json(&weekends_only_json(2030)).expect("valid");
        cal.extend(far).expect("a new year");
        assert_eq!(cal.years(), vec![2024, 2025, 2026, 2027, 2030]);
        assert_eq!(cal.first_year(), 2024);
        assert_eq!(cal.last_year(), 2030);
        assert!(!cal.covers(date(2028, 6, 1)));
        assert!(cal.covers(date(2030, 6, 1)));
        assert_eq!(cal.working_days_in_year(2030), Ok(261));
        assert!(matches!(
            cal.is_working_day(date(2029, 1, 9)),
            Err(CalendarError::OutOfRange {
                first_year: 2024,
                last_year: 2030,
                ..
            })
        ));
        assert_eq!(
            cal.working_days_between(date(2027, 12, 1), date(2030, 1, 1)),
            Err(CalendarError::OutOfRange {
                date: date(2028, 1, 1),
                first_year: 2024,
                last_year: 2030
            })
        );
    }
}
