//! The daily detection job: runs [`amina_domain::detection::daily::run_day`]
//! for every person who reported during a day, over their stored fixes, and
//! writes what it finds into the alerts queue as signals.
//!
//! Incremental and repeatable: each person's kept history records the last
//! day processed, so a rerun (after a crash, or on a second node) skips the
//! people already done and never doubles a signal (signals are raised once
//! per occurrence key). People are found through the index on their last
//! monitoring instant: a day costs in proportion to the people who reported.

use amina_domain::calendar::ProductionCalendar;
use amina_domain::detection::daily::{run_day, DailyFindings, DailyParams, PersonHistory};
use amina_domain::detection::{clean, TrackFix};
use amina_domain::signal::{SignalKind, SignalSubject};
use amina_domain::time::{moscow, moscow_date};
use amina_store::{DetectionHistory, NewSignal, SharedStore, StoreError, StoredFix};
use jiff::civil::Date;
use jiff::Timestamp;
use serde::Serialize;

/// People loaded per page.
const PAGE: u32 = 500;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DetectionReport {
    pub date: Option<Date>,
    /// People whose day was processed now.
    pub processed: u64,
    /// People already processed for this day (an earlier run).
    pub skipped: u64,
    /// Signals newly raised.
    pub signals: u64,
}

fn track_fix(f: &StoredFix) -> TrackFix {
    TrackFix {
        at: f.recorded_at,
        lat: f.lat,
        lon: f.lon,
        accuracy_m: Some(f.accuracy_m),
        mock: f.flags.mock_location,
        implausible: f.flags.implausible_speed,
        battery: f.battery_pct,
    }
}

/// The signals a person-day's findings raise. Occurrence keys: the day
/// for spoofing; the ISO week for a stationary phone and for living
/// elsewhere, so a continuing situation is one signal a week, not one a day.
fn signals_of(person_id: i64, date: Date, f: &DailyFindings, at: Timestamp) -> Vec<NewSignal> {
    let week = date.iso_week_date();
    let week_key = format!("{}-W{:02}", week.year(), week.week());
    let mut out = Vec::new();
    let mut push = |kind, key: String, score, explanation: &str, evidence| {
        out.push(NewSignal {
            kind,
            subject: SignalSubject::Person(person_id),
            dedup_key: key,
            raised_at: at,
            score: Some(score),
            explanation: explanation.to_string(),
            evidence,
        });
    };
    if let Some(s) = &f.stationary {
        push(
            SignalKind::StationaryDevice,
            week_key.clone(),
            s.score,
            &s.explanation,
            serde_json::to_value(s).unwrap_or_default(),
        );
    }
    if let Some(s) = &f.spoofing {
        push(
            SignalKind::SpoofedLocation,
            date.to_string(),
            s.score,
            &s.explanation,
            serde_json::to_value(s).unwrap_or_default(),
        );
    }
    if let Some(e) = &f.lives_elsewhere {
        push(
            SignalKind::LivesElsewhere,
            week_key,
            e.score,
            &e.explanation,
            serde_json::to_value(e).unwrap_or_default(),
        );
    }
    out
}

/// Process Moscow day `date` for everybody who reported since the evening
/// before it; a person's place-of-stay notice in force, if any, is the
/// registered address the inferred home is compared with.
pub async fn run_for_day(
    store: &SharedStore,
    calendar: &ProductionCalendar,
    date: Date,
    params: &DailyParams,
    now: Timestamp,
) -> Result<DetectionReport, StoreError> {
    let rule = |e: jiff::Error| StoreError::Rule(e.to_string());
    let night_start = date
        .yesterday()
        .map_err(rule)?
        .at(params.home.night_start_hour, 0, 0, 0)
        .to_zoned_datetime(moscow().clone())
        .map_err(rule)?
        .timestamp();
    let day_end = date
        .tomorrow()
        .map_err(rule)?
        .at(0, 0, 0, 0)
        .to_zoned_datetime(moscow().clone())
        .map_err(rule)?
        .timestamp();
    // A date outside the loaded calendar is not guessed: it does not count
    // as a working day, which can only make the stationary check quieter.
    let is_working_day = |d: Date| calendar.is_working_day(d).unwrap_or(false);
    let mut report = DetectionReport {
        date: Some(date),
        ..Default::default()
    };
    let mut after = 0i64;
    loop {
        let ids = store
            .persons_reporting_since(night_start, after, PAGE)
            .await?;
        let Some(&last) = ids.last() else {
            return Ok(report);
        };
        after = last;
        for person_id in ids {
            let kept = store.detection_history(person_id).await?;
            if kept.as_ref().is_some_and(|k| k.last_day >= date) {
                report.skipped += 1;
                continue;
            }
            let mut history: PersonHistory = kept
                .and_then(|k| serde_json::from_value(k.history).ok())
                .unwrap_or_default();
            let fixes: Vec<TrackFix> = store
                .fixes_between(person_id, night_start, day_end)
                .await?
                .iter()
                .map(track_fix)
                .collect();
            // The place of stay in force: the "lives elsewhere" comparison.
            let registered = store
                .notices(person_id)
                .await?
                .into_iter()
                .find(|n| n.state == amina_domain::stay::NoticeState::Current)
                .map(|n| (n.address.position.lat(), n.address.position.lon()));
            let findings = run_day(
                date,
                &clean(&fixes),
                registered,
                &mut history,
                &is_working_day,
                moscow(),
                params,
            );
            for signal in signals_of(person_id, date, &findings, now) {
                if store.raise_signal(signal).await?.created {
                    report.signals += 1;
                }
            }
            store
                .save_detection_history(
                    person_id,
                    DetectionHistory {
                        last_day: date,
                        history: serde_json::to_value(&history)
                            .map_err(|e| StoreError::Internal(e.to_string()))?,
                    },
                    now,
                )
                .await?;
            report.processed += 1;
        }
    }
}

/// The day the job should process at `now`: yesterday (Moscow), once the
/// configured hour has passed today; None before it.
pub fn due_day(now: Timestamp, after_hour: i8) -> Option<Date> {
    let local = moscow().to_datetime(now);
    if local.hour() < after_hour {
        return None;
    }
    moscow_date(now).yesterday().ok()
}
