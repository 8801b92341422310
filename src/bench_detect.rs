//! `amina bench detect-daily`: the daily detection job for a city's worth of
//! people on this machine.
//!
//! Each simulated person sleeps at a home and spends working hours at a work
//! place somewhere in Moscow, reporting at a fixed interval with GNSS jitter;
//! a share of them left the phone at home. For each person the history the
//! job would load from storage (the last two days' features, the last 13
//! night locations) is built first (not timed), then the daily step for the
//! evaluated day runs on that day's fixes (timed). Reported: people, fixes,
//! wall time, detection CPU time per person and per fix, findings, and the
//! peak resident set of the process.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use amina_domain::detection::daily::{run_day, DailyParams, PersonHistory};
use amina_domain::detection::features::day_features;
use amina_domain::detection::home::NightLocation;
use amina_domain::detection::inject::Rng;
use amina_domain::detection::TrackFix;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::SignedDuration;

#[derive(clap::Args, Debug)]
pub struct DetectDailyArgs {
    #[arg(long, default_value_t = 3_000_000)]
    pub people: u64,
    /// Reporting interval, minutes (5: 288 fixes a day).
    #[arg(long, default_value_t = 5)]
    pub interval_min: i64,
    /// Share of people whose phone stays at home (0..1).
    #[arg(long, default_value_t = 0.01)]
    pub left_at_home: f64,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

const DAY: fn() -> Date = || jiff::civil::date(2025, 11, 26); // a Wednesday

/// One simulated day of fixes from 22:00 the evening before to midnight.
fn simulate_day(
    date: Date,
    home: (f64, f64),
    work: (f64, f64),
    stays_home: bool,
    interval: SignedDuration,
    tz: &TimeZone,
    rng: &mut Rng,
) -> Vec<TrackFix> {
    let start = date
        .yesterday()
        .expect("a date after year -9999")
        .at(22, 0, 0, 0)
        .to_zoned_datetime(tz.clone())
        .expect("Moscow has no gaps")
        .timestamp();
    let end = start + SignedDuration::from_hours(26);
    let k = 1.0 / 111_195.0;
    let mut out = Vec::with_capacity(320);
    let mut at = start;
    while at < end {
        let hour = tz.to_datetime(at).hour();
        let pos = if !stays_home && (9..18).contains(&hour) {
            work
        } else {
            home
        };
        out.push(TrackFix {
            at,
            lat: pos.0 + rng.normal() * 8.0 * k,
            lon: pos.1 + rng.normal() * 8.0 * k / 0.56,
            accuracy_m: Some(10.0 + rng.unit() * 20.0),
            mock: false,
            implausible: false,
            battery: None,
        });
        at += interval;
    }
    out
}

fn place(rng: &mut Rng) -> (f64, f64) {
    (55.55 + rng.unit() * 0.35, 37.35 + rng.unit() * 0.5)
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

pub fn run(args: &DetectDailyArgs) -> anyhow::Result<String> {
    anyhow::ensure!(args.interval_min > 0, "--interval-min must be positive");
    let tz = TimeZone::get("Europe/Moscow")?;
    let interval = SignedDuration::from_mins(args.interval_min);
    let params = DailyParams::default();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    let date = DAY();
    let weekdays = |d: Date| d.weekday().to_monday_one_offset() <= 5;
    let detect_ns = AtomicU64::new(0);
    let fixes = AtomicU64::new(0);
    let stationary = AtomicU64::new(0);
    let found_left = AtomicU64::new(0);
    let planted = AtomicU64::new(0);
    let started = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let (tz, params, weekdays) = (&tz, &params, &weekdays);
            let (detect_ns, fixes, stationary, found_left, planted) =
                (&detect_ns, &fixes, &stationary, &found_left, &planted);
            s.spawn(move || {
                let mut local_ns = 0u64;
                let (mut local_fixes, mut local_st, mut local_found, mut local_planted) =
                    (0u64, 0u64, 0u64, 0u64);
                let mut person = t;
                while person < args.people {
                    let mut rng = Rng::new(args.seed ^ person.wrapping_mul(0x9E37_79B9_7F4A_7C15));
                    let home = place(&mut rng);
                    let work = place(&mut rng);
                    let left = rng.unit() < args.left_at_home;
                    local_planted += u64::from(left);
                    // The stored history: two previous days and 13 nights.
                    let mut history = PersonHistory::default();
                    for back in [2, 1] {
                        let d = date
                            .checked_sub(jiff::Span::new().days(back))
                            .expect("in range");
                        let day = simulate_day(d, home, work, left, interval, tz, &mut rng);
                        let today: Vec<TrackFix> = day
                            .into_iter()
                            .filter(|f| tz.to_datetime(f.at).date() == d)
                            .collect();
                        history.days.extend(day_features(d, &today, tz));
                    }
                    for back in (1..=13).rev() {
                        history.nights.push(NightLocation {
                            night: date
                                .checked_sub(jiff::Span::new().days(back + 1))
                                .expect("in range"),
                            lat: home.0,
                            lon: home.1,
                            weight_s: 28_800.0,
                        });
                    }
                    let day = simulate_day(date, home, work, left, interval, tz, &mut rng);
                    local_fixes += day.len() as u64;
                    let t0 = Instant::now();
                    let findings =
                        run_day(date, &day, Some(home), &mut history, weekdays, tz, params);
                    local_ns += t0.elapsed().as_nanos() as u64;
                    if findings.stationary.is_some() {
                        local_st += 1;
                        local_found += u64::from(left);
                    }
                    std::hint::black_box(findings);
                    person += threads;
                }
                detect_ns.fetch_add(local_ns, Ordering::Relaxed);
                fixes.fetch_add(local_fixes, Ordering::Relaxed);
                stationary.fetch_add(local_st, Ordering::Relaxed);
                found_left.fetch_add(local_found, Ordering::Relaxed);
                planted.fetch_add(local_planted, Ordering::Relaxed);
            });
        }
    });
    let wall = started.elapsed().as_secs_f64();
    let detect_s = detect_ns.load(Ordering::Relaxed) as f64 / 1e9;
    let n_fixes = fixes.load(Ordering::Relaxed);
    let people = args.people.max(1) as f64;
    Ok(format!(
        "detect-daily: {} people, {} fixes of day {date} ({} min interval), {threads} threads\n\
         wall time {wall:.1} s (simulation included); detection CPU {detect_s:.1} s = \
         {:.1} µs/person, {:.0} ns/fix; detection wall time at {threads} threads ≈ {:.1} s\n\
         stationary_device raised for {} people; phones left at home: {} planted, {} found\n\
         peak resident set {} MiB\n",
        args.people,
        n_fixes,
        args.interval_min,
        detect_s * 1e6 / people,
        detect_s * 1e9 / n_fixes.max(1) as f64,
        detect_s / threads as f64,
        stationary.load(Ordering::Relaxed),
        planted.load(Ordering::Relaxed),
        found_left.load(Ordering::Relaxed),
        peak_rss_mib().map_or("n/a".into(), |m| format!("{m:.0}")),
    ))
}
