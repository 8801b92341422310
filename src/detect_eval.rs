//! `amina detect evaluate`: measure the detectors on real traces with
//! injected evasions (docs/detection.md, "Evaluation").
//!
//! The real GeoLife people are taken as not evading: every signal on their
//! unmodified person-days counts as a false positive. Copies of their traces
//! then get one synthetic evasion each (a phone left at home for three days,
//! jumps to 20–60 km away, a frozen mock position, a registered address a
//! few kilometres from where they sleep), and the detector for that evasion
//! must find it. Per signal: cases, recall, false-positive rate over the
//! evaluable clean person-days, and precision at the 1:1 mix of this run.
//! The anomaly score is reported as the area under the ROC curve of
//! injected days against clean days.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use amina_domain::detection::anomaly::AnomalyModel;
use amina_domain::detection::evasion::{
    app_probably_removed, spoofing, stationary, RemovedParams, SpoofingParams, StationaryParams,
};
use amina_domain::detection::features::{by_day, day_features, DayFeatures};
use amina_domain::detection::home::{estimate_home, lives_elsewhere, ElsewhereParams, HomeParams};
use amina_domain::detection::inject::{frozen, left_at_home, spoofed_jumps, Rng};
use amina_domain::detection::{clean, TrackFix};
use anyhow::Context;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::SignedDuration;

#[derive(clap::Args, Debug)]
pub struct EvaluateArgs {
    /// Trace CSV files (user_id, tracked_at, latitude, longitude); users with
    /// the same id in several files are merged (duplicates dropped).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Time zone of the people in the traces (days and nights are local).
    #[arg(long, default_value = "Asia/Shanghai")]
    pub tz: String,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

/// Counts for one signal.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    cases: u32,
    found: u32,
    clean: u32,
    false_pos: u32,
}

impl Tally {
    fn recall(&self) -> f64 {
        ratio(self.found, self.cases)
    }
    fn fpr(&self) -> f64 {
        ratio(self.false_pos, self.clean)
    }
    fn precision(&self) -> f64 {
        ratio(self.found, self.found + self.false_pos)
    }
}

fn ratio(a: u32, b: u32) -> f64 {
    if b == 0 {
        f64::NAN
    } else {
        f64::from(a) / f64::from(b)
    }
}

struct Person {
    fixes: Vec<TrackFix>,
    days: BTreeMap<Date, Vec<TrackFix>>,
    features: BTreeMap<Date, DayFeatures>,
}

fn person(fixes: Vec<TrackFix>, tz: &TimeZone) -> Person {
    let days = by_day(&fixes, tz);
    let features = days
        .iter()
        .filter_map(|(d, f)| Some((*d, day_features(*d, f, tz)?)))
        .collect();
    Person {
        fixes,
        days,
        features,
    }
}

/// Area under the ROC curve: the chance that a random positive scores
/// above a random negative (ties count half).
fn auc(positives: &[f64], negatives: &[f64]) -> f64 {
    if positives.is_empty() || negatives.is_empty() {
        return f64::NAN;
    }
    let mut wins = 0.0;
    for p in positives {
        for n in negatives {
            wins += if p > n {
                1.0
            } else if p == n {
                0.5
            } else {
                0.0
            };
        }
    }
    wins / (positives.len() * negatives.len()) as f64
}

fn weekday(d: Date) -> bool {
    d.weekday().to_monday_one_offset() <= 5
}

pub fn run(args: &EvaluateArgs) -> anyhow::Result<String> {
    let tz = TimeZone::get(&args.tz).with_context(|| format!("unknown time zone {}", args.tz))?;
    let mut merged: BTreeMap<String, Vec<TrackFix>> = BTreeMap::new();
    for file in &args.files {
        for (user, fixes) in crate::traces::read(file)? {
            merged
                .entry(user)
                .or_default()
                .extend(fixes.iter().map(|f| TrackFix::at(f.at, f.lat, f.lon)));
        }
    }
    let people: BTreeMap<String, Person> = merged
        .into_iter()
        .map(|(u, f)| (u, person(clean(&f), &tz)))
        .collect();
    let mut rng = Rng::new(args.seed);
    let st = StationaryParams::default();
    let sp = SpoofingParams::default();
    let hp = HomeParams::default();
    let ep = ElsewhereParams::default();

    let mut stationary_t = Tally::default();
    let mut spoof_jump_t = Tally::default();
    let mut spoof_frozen_t = Tally::default();
    let mut elsewhere_t = Tally::default();
    let mut removed_t = Tally::default();
    let mut person_days = 0u32;
    let mut fixes_total = 0usize;

    // The anomaly model is fitted on every clean person-day.
    let clean_days: Vec<DayFeatures> = people
        .values()
        .flat_map(|p| p.features.values().cloned())
        .collect();
    let model = AnomalyModel::fit(&clean_days).context("no person-days in the traces")?;
    let clean_scores: Vec<f64> = clean_days.iter().map(|d| model.score(d).score).collect();
    let mut injected_scores: BTreeMap<&str, Vec<f64>> = BTreeMap::new();

    for p in people.values() {
        person_days += p.features.len() as u32;
        fixes_total += p.fixes.len();
        let dates: Vec<Date> = p.features.keys().copied().collect();
        // Where the person sleeps, from all their nights: the truth for the
        // "lives elsewhere" check.
        let last = *dates.last().expect("a person has days");
        let truth = estimate_home(
            &p.fixes,
            last,
            &tz,
            &HomeParams {
                nights: 10_000,
                ..hp
            },
        );

        for &d in &dates {
            let f = &p.features[&d];
            // Clean: nothing should fire.
            spoof_jump_t.clean += 1;
            spoof_frozen_t.clean += 1;
            if spoofing(f, &sp).is_some() {
                spoof_jump_t.false_pos += 1;
                spoof_frozen_t.false_pos += 1;
            }
            let window: Vec<Date> = (0..st.window_days)
                .rev()
                .filter_map(|k| d.checked_sub(jiff::Span::new().days(i64::from(k))).ok())
                .collect();
            let evaluable = window.iter().all(|w| {
                p.features.get(w).is_some_and(|x| {
                    x.fixes >= st.min_fixes_per_day && x.active_hours >= st.min_active_hours_per_day
                })
            }) && window.iter().filter(|w| weekday(**w)).count() as u32
                >= st.min_working_days;
            if evaluable {
                stationary_t.clean += 1;
                if stationary(&p.features, d, &weekday, &st).is_some() {
                    stationary_t.false_pos += 1;
                }
                // Injected: the phone stays at the first position of the window.
                // Only the window's days are copied: the detectors look at
                // nothing else.
                let first = p.days[&window[0]][0];
                let window_fixes: Vec<TrackFix> = window
                    .iter()
                    .flat_map(|w| p.days[w].iter().copied())
                    .collect();
                let copy = person(
                    left_at_home(
                        &window_fixes,
                        &window,
                        (first.lat, first.lon),
                        8.0,
                        &tz,
                        &mut rng,
                    ),
                    &tz,
                );
                stationary_t.cases += 1;
                if stationary(&copy.features, d, &weekday, &st).is_some() {
                    stationary_t.found += 1;
                }
                injected_scores
                    .entry("left_at_home")
                    .or_default()
                    .push(model.score(&copy.features[&d]).score);
            }
            // Spoofed jumps: three teleports on days with enough fixes to
            // have neighbours.
            if f.fixes >= 10 {
                let copy = person(spoofed_jumps(&p.days[&d], d, 3, &tz, &mut rng), &tz);
                spoof_jump_t.cases += 1;
                if spoofing(&copy.features[&d], &sp).is_some() {
                    spoof_jump_t.found += 1;
                }
                injected_scores
                    .entry("spoofed_jumps")
                    .or_default()
                    .push(model.score(&copy.features[&d]).score);
            }
            // A frozen mock position for the whole day.
            if f.fixes >= sp.min_identical_run as usize {
                let copy = person(frozen(&p.days[&d], d, &tz), &tz);
                spoof_frozen_t.cases += 1;
                if spoofing(&copy.features[&d], &sp).is_some() {
                    spoof_frozen_t.found += 1;
                }
                injected_scores
                    .entry("frozen_position")
                    .or_default()
                    .push(model.score(&copy.features[&d]).score);
            }
            // Lives elsewhere: registered at the true home (clean) or at a
            // point 2–8 km away (injected), judged on the last 14 nights.
            if let (Some(truth), Some(home)) = (&truth, estimate_home(&p.fixes, d, &tz, &hp)) {
                if home.nights_observed >= ep.min_nights_observed {
                    elsewhere_t.clean += 1;
                    if lives_elsewhere(&home, (truth.lat, truth.lon), &ep).is_some() {
                        elsewhere_t.false_pos += 1;
                    }
                    let dist = 2_000.0 + rng.unit() * 6_000.0;
                    let bearing = rng.unit() * std::f64::consts::TAU;
                    let k = 1.0 / 111_195.0;
                    let moved = (
                        truth.lat + dist * bearing.cos() * k,
                        truth.lon + dist * bearing.sin() * k / truth.lat.to_radians().cos(),
                    );
                    elsewhere_t.cases += 1;
                    if lives_elsewhere(&home, moved, &ep).is_some() {
                        elsewhere_t.found += 1;
                    }
                }
            }
        }
        // App removed: 72 h after the last fix with the subscription gone
        // (injected) or alive (clean: a phone switched off).
        let last_fix = p.fixes.last().expect("a person has fixes").at;
        let first_fix = p.fixes[0].at;
        let later = last_fix + SignedDuration::from_hours(72);
        removed_t.cases += 1;
        if app_probably_removed(
            Some(last_fix),
            first_fix,
            Some(later),
            later,
            &RemovedParams::default(),
        )
        .is_some()
        {
            removed_t.found += 1;
        }
        removed_t.clean += 1;
        if app_probably_removed(
            Some(last_fix),
            first_fix,
            None,
            later,
            &RemovedParams::default(),
        )
        .is_some()
        {
            removed_t.false_pos += 1;
        }
    }

    let mut out = String::new();
    writeln!(
        out,
        "traces: {} people, {} person-days, {} fixes; time zone {}; seed {}",
        people.len(),
        person_days,
        fixes_total,
        args.tz,
        args.seed
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "| signal | injected evasion | cases | recall | clean person-days | false positives | FPR | precision (1:1) |"
    )?;
    writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|")?;
    let rows = [
        (
            "stationary_device",
            "phone left at home 3 days",
            stationary_t,
        ),
        (
            "spoofed_location",
            "3 jumps of 20–60 km in a day",
            spoof_jump_t,
        ),
        (
            "spoofed_location",
            "frozen mock position all day",
            spoof_frozen_t,
        ),
        (
            "lives_elsewhere",
            "registered 2–8 km from home",
            elsewhere_t,
        ),
        ("app_probably_removed", "silent 72 h, push gone", removed_t),
    ];
    for (signal, what, t) in rows {
        writeln!(
            out,
            "| {signal} | {what} | {} | {} | {} | {} | {} | {} |",
            t.cases,
            pct(t.recall()),
            t.clean,
            t.false_pos,
            pct(t.fpr()),
            pct(t.precision())
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "anomaly score (fitted on {} clean person-days), AUC of injected vs clean days:",
        clean_days.len()
    )?;
    for (what, scores) in &injected_scores {
        writeln!(
            out,
            "  {what}: {:.3} ({} injected days)",
            auc(scores, &clean_scores),
            scores.len()
        )?;
    }
    Ok(out)
}

fn pct(x: f64) -> String {
    if x.is_nan() {
        "n/a".into()
    } else {
        format!("{:.1}%", 100.0 * x)
    }
}
