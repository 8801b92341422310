//! The daily detection job: runs [`amina_domain::detection::daily::run_day`]
//! for every person who reported during a day, over their stored fixes, and
//! writes what it finds into the alerts queue as signals; then, over the
//! whole register, reviews addresses (fictitious addresses), silent people
//! whose push subscription is gone (app probably removed) and the day's
//! device bindings and revoked devices' uploads (device churn).
//!
//! Incremental and repeatable: each person's kept history records the last
//! day processed, so a rerun (after a crash, or on a second node) skips the
//! people already done and never doubles a signal (signals are raised once
//! per occurrence key). People are found through the index on their last
//! monitoring instant: a day costs in proportion to the people who reported.
//! The later steps read only what the day changed (bindings and revoked
//! uploads of the day, subscriptions gone in the last 30 days) except the
//! address review, one aggregate query over the notices in force.
//!
//! Every person-day signal carries the day's anomaly score and its top
//! features ([`amina_domain::detection::anomaly`]), scored against the model
//! fitted on the previous processed day's person-days; the score orders the
//! alerts queue and never raises a signal by itself.

use amina_domain::calendar::ProductionCalendar;
use amina_domain::detection::address::{rank_addresses, verdict};
use amina_domain::detection::anomaly::{AnomalyModel, Reservoir};
use amina_domain::detection::daily::{run_day, DailyFindings, DailyParams, PersonHistory};
use amina_domain::detection::evasion::{app_probably_removed, device_churn};
use amina_domain::detection::{clean, TrackFix};
use amina_domain::signal::{SignalKind, SignalSubject};
use amina_domain::time::{moscow, moscow_date};
use amina_store::{AnomalyRank, DetectionHistory, NewSignal, SharedStore, StoreError, StoredFix};
use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

/// People loaded per page.
const PAGE: u32 = 500;

/// Person-days kept (a uniform sample) to fit the next day's anomaly model.
const REFERENCE_SAMPLE: usize = 20_000;

/// How far back a gone push subscription is looked at: the signal is raised
/// on the first run after 48 h of silence, so a month is ample.
const GONE_LOOKBACK: SignedDuration = SignedDuration::from_hours(24 * 30);

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DetectionReport {
    pub date: Option<Date>,
    /// People whose day was processed now.
    pub processed: u64,
    /// People already processed for this day (an earlier run).
    pub skipped: u64,
    /// Signals newly raised (all steps).
    pub signals: u64,
    /// Of which: fictitious-address signals.
    pub addresses: u64,
    /// Of which: app probably removed.
    pub apps_removed: u64,
    /// Of which: device churn.
    pub churn: u64,
    /// The day whose person-days the anomaly scores are relative to; None
    /// when no earlier model existed (the first page was the reference).
    pub anomaly_reference_day: Option<Date>,
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

/// The ISO week of a day, e.g. "2025-W47": the occurrence key of
/// continuing situations, raised once a week rather than once a day.
pub fn week_key(date: Date) -> String {
    let week = date.iso_week_date();
    format!("{}-W{:02}", week.year(), week.week())
}

/// The signals a person-day's findings raise. Occurrence keys: the day
/// for spoofing; the ISO week for a stationary phone and for living
/// elsewhere, so a continuing situation is one signal a week, not one a day.
fn signals_of(person_id: i64, date: Date, f: &DailyFindings, at: Timestamp) -> Vec<NewSignal> {
    let week_key = week_key(date);
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

/// One person's day, computed before the page's signals are written.
struct PersonDay {
    person_id: i64,
    findings: DailyFindings,
    history: PersonHistory,
    /// The place of stay in force: address id and position.
    registered: Option<(String, (f64, f64))>,
}

fn start_of(date: Date, hour: i8) -> Result<Timestamp, StoreError> {
    date.at(hour, 0, 0, 0)
        .to_zoned_datetime(moscow().clone())
        .map(|z| z.timestamp())
        .map_err(|e| StoreError::Rule(e.to_string()))
}

/// Process Moscow day `date` for everybody who reported since the evening
/// before it (a person's place-of-stay notice in force, if any, is the
/// registered address the inferred home is compared with), then run the
/// address review, the app-removed check and the device-churn check.
pub async fn run_for_day(
    store: &SharedStore,
    calendar: &ProductionCalendar,
    date: Date,
    params: &DailyParams,
    now: Timestamp,
) -> Result<DetectionReport, StoreError> {
    let rule = |e: jiff::Error| StoreError::Rule(e.to_string());
    let night_start = start_of(
        date.yesterday().map_err(rule)?,
        params.home.night_start_hour,
    )?;
    let day_start = start_of(date, 0)?;
    let day_end = start_of(date.tomorrow().map_err(rule)?, 0)?;
    // A date outside the loaded calendar is not guessed: it does not count
    // as a working day, which can only make the stationary check quieter.
    let is_working_day = |d: Date| calendar.is_working_day(d).unwrap_or(false);
    let mut report = DetectionReport {
        date: Some(date),
        ..Default::default()
    };
    // The reference population: the last earlier day's model. On the very
    // first day there is none, and the first page's person-days serve.
    let mut model: Option<AnomalyModel> = match store.anomaly_model_before(date).await? {
        Some((day, json)) => match serde_json::from_value(json) {
            Ok(m) => {
                report.anomaly_reference_day = Some(day);
                Some(m)
            }
            Err(e) => {
                tracing::warn!(error = %e, "stored anomaly model unreadable; refitting");
                None
            }
        },
        None => None,
    };
    // Deterministic per day: a rerun samples the same way.
    let seed = (date.year() as u64) * 10_000 + (date.month() as u64) * 100 + date.day() as u64;
    let mut sample = Reservoir::new(REFERENCE_SAMPLE, seed);
    let mut after = 0i64;
    loop {
        let ids = store
            .persons_reporting_since(night_start, after, PAGE)
            .await?;
        let Some(&last) = ids.last() else {
            break;
        };
        after = last;
        let mut page = Vec::with_capacity(ids.len());
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
                .map(|n| {
                    (
                        n.address.id.as_str().to_string(),
                        (n.address.position.lat(), n.address.position.lon()),
                    )
                });
            let findings = run_day(
                date,
                &clean(&fixes),
                registered.as_ref().map(|r| r.1),
                &mut history,
                &is_working_day,
                moscow(),
                params,
            );
            if let Some(f) = &findings.features {
                sample.offer(f);
            }
            page.push(PersonDay {
                person_id,
                findings,
                history,
                registered,
            });
        }
        if model.is_none() {
            let days: Vec<_> = page
                .iter()
                .filter_map(|p| p.findings.features.clone())
                .collect();
            model = AnomalyModel::fit(&days);
        }
        for day in page {
            let rank = match (&model, &day.findings.features) {
                (Some(m), Some(f)) if m.fits(f) => Some(AnomalyRank::from(&m.score(f))),
                _ => None,
            };
            for signal in signals_of(day.person_id, date, &day.findings, now) {
                if store
                    .raise_ranked_signal(signal, rank.clone())
                    .await?
                    .created
                {
                    report.signals += 1;
                }
            }
            if let Some((address_id, position)) = day.registered {
                let v = verdict(day.findings.home.as_ref(), position, &params.elsewhere);
                store
                    .save_home_verdict(day.person_id, address_id, date, v, now)
                    .await?;
            }
            store
                .save_detection_history(
                    day.person_id,
                    DetectionHistory {
                        last_day: date,
                        history: serde_json::to_value(&day.history)
                            .map_err(|e| StoreError::Internal(e.to_string()))?,
                    },
                    now,
                )
                .await?;
            report.processed += 1;
        }
    }
    if let Some(m) = AnomalyModel::fit(&sample.days) {
        let json = serde_json::to_value(&m).map_err(|e| StoreError::Internal(e.to_string()))?;
        let n = u32::try_from(sample.days.len()).unwrap_or(u32::MAX);
        store.save_anomaly_model(date, json, n, now).await?;
    }
    report.addresses = review_addresses(store, date, params, now).await?;
    report.apps_removed = apps_removed(store, params, now).await?;
    report.churn = churn(store, date, (day_start, day_end), params, now).await?;
    report.signals += report.addresses + report.apps_removed + report.churn;
    Ok(report)
}

/// Fictitious addresses: every address where someone's inferred home is
/// elsewhere (or that is crowded) with all its residents' verdicts and the
/// undecided host-party disputes, ranked by
/// [`amina_domain::detection::address::rank_addresses`]; those over a
/// threshold raise one address-level signal per ISO week, whose evidence is
/// the table and the address's place in the ranking.
async fn review_addresses(
    store: &SharedStore,
    date: Date,
    params: &DailyParams,
    now: Timestamp,
) -> Result<u64, StoreError> {
    // A verdict is as old as the nights it was computed from.
    let fresh_since = date
        .checked_sub(jiff::Span::new().days(i64::from(params.home.nights.max(1)) - 1))
        .map_err(|e| StoreError::Rule(e.to_string()))?;
    let residents = store
        .address_review_residents(fresh_since, params.address.max_plausible_residents)
        .await?;
    let disputes = store.open_address_disputes().await?;
    let ranked = rank_addresses(&residents, &disputes, &params.address);
    let raised: Vec<_> = ranked.iter().filter(|f| f.raise).collect();
    let mut created = 0;
    for (i, f) in raised.iter().enumerate() {
        let mut evidence =
            serde_json::to_value(f).map_err(|e| StoreError::Internal(e.to_string()))?;
        if let Some(o) = evidence.as_object_mut() {
            o.insert("rank".into(), serde_json::json!(i + 1));
            o.insert("ranked_addresses".into(), serde_json::json!(raised.len()));
            o.insert("day".into(), serde_json::json!(date.to_string()));
        }
        let signal = NewSignal {
            kind: SignalKind::FictitiousAddress,
            subject: SignalSubject::Address(f.address_id.clone()),
            dedup_key: week_key(date),
            raised_at: now,
            score: Some(f.score),
            explanation: f.explanation.clone(),
            evidence,
        };
        if store.raise_signal(signal).await?.created {
            created += 1;
        }
    }
    Ok(created)
}

/// "App probably removed": silent people whose push subscription the push
/// service reported gone; once per gone subscription (its instant is the
/// occurrence key).
async fn apps_removed(
    store: &SharedStore,
    params: &DailyParams,
    now: Timestamp,
) -> Result<u64, StoreError> {
    let gone = store
        .silent_with_gone_push(now - GONE_LOOKBACK, now - params.removed.min_silence)
        .await?;
    let mut created = 0;
    for g in gone {
        let Some(r) = app_probably_removed(
            g.last_monitoring_at,
            g.registration_started_at,
            Some(g.gone_at),
            now,
            &params.removed,
        ) else {
            continue;
        };
        let signal = NewSignal {
            kind: SignalKind::AppProbablyRemoved,
            subject: SignalSubject::Person(g.person_id),
            dedup_key: g.gone_at.to_string(),
            raised_at: now,
            score: None,
            explanation: r.explanation.clone(),
            evidence: serde_json::to_value(&r).map_err(|e| StoreError::Internal(e.to_string()))?,
        };
        if store.raise_signal(signal).await?.created {
            created += 1;
        }
    }
    Ok(created)
}

/// Device churn: people who bound a device during the day, or whose revoked
/// device tried to upload, judged over the churn window ending with the
/// day; once per ISO week.
async fn churn(
    store: &SharedStore,
    date: Date,
    (day_start, day_end): (Timestamp, Timestamp),
    params: &DailyParams,
    now: Timestamp,
) -> Result<u64, StoreError> {
    let candidates = store
        .churn_candidates(date, day_start, day_end, day_end - params.churn.window)
        .await?;
    let mut created = 0;
    for c in candidates {
        let Some(found) = device_churn(&c.bindings, c.revoked_uploads, day_end, &params.churn)
        else {
            continue;
        };
        let evidence = serde_json::json!({
            "day": date.to_string(),
            "window_days": params.churn.window.as_hours() / 24,
            "bindings": c.bindings.iter().map(|b| b.to_string()).collect::<Vec<_>>(),
            "bindings_in_window": found.bindings_in_window,
            "revoked_device_uploads": found.revoked_device_uploads,
            "revoked_devices": c.revoked_devices,
        });
        let signal = NewSignal {
            kind: SignalKind::DeviceChurn,
            subject: SignalSubject::Person(c.person_id),
            dedup_key: week_key(date),
            raised_at: now,
            score: None,
            explanation: found.explanation,
            evidence,
        };
        if store.raise_signal(signal).await?.created {
            created += 1;
        }
    }
    Ok(created)
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
