//! What each simulated phone does, decided once from the seed.
//!
//! A phone belongs to a person who lives in one real district of Moscow or
//! Moscow Oblast and works in another: at home at night, commuting in the
//! morning and evening (straight line, at a commuter's pace), at work by
//! day, home at weekends. A few people behave otherwise, in the proportions
//! the pilot's public reports suggest matter for the rules:
//!
//! - a trip out of the region (Tver, Tula, …) for a part of the run — the
//!   server must set "outside since T" and raise a signal, never deregister;
//! - a phone that goes silent part-way — what the three-working-day rule is
//!   for;
//! - GNSS spoofing: now and then a fix lands at an airport or in another
//!   city, sometimes with the mock flag — the server must flag it and not
//!   move the person;
//! - offline spells: fixes queue on the phone and go up in one burst.
//!
//! Everything here is a pure function of the seed, the phone's index and
//! the instant, so a run is reproducible; only the wall clock at which it
//! starts differs between runs. Positions are jittered by the fix's stated
//! accuracy with a generator seeded per fix.

use jiff::{SignedDuration, Timestamp};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A named real place: (name, latitude, longitude), WGS 84.
pub type Place = (&'static str, f64, f64);

/// Residential districts of Moscow and towns of Moscow Oblast (centres,
/// rounded to about 100 m). Homes are drawn within 1.5 km of one.
pub const HOMES: &[Place] = &[
    ("Tverskoy", 55.7650, 37.6050),
    ("Basmanny", 55.7660, 37.6600),
    ("Maryino", 55.6500, 37.7440),
    ("Vykhino-Zhulebino", 55.7030, 37.8190),
    ("Lyublino", 55.6770, 37.7620),
    ("Biryulyovo Zapadnoye", 55.5890, 37.6350),
    ("Severnoye Butovo", 55.5680, 37.5750),
    ("Mitino", 55.8450, 37.3610),
    ("Strogino", 55.8030, 37.4020),
    ("Otradnoye", 55.8630, 37.6050),
    ("Severnoye Medvedkovo", 55.8800, 37.6500),
    ("Golyanovo", 55.8200, 37.8080),
    ("Novogireyevo", 55.7510, 37.8150),
    ("Solntsevo", 55.6490, 37.3990),
    ("Zelenograd", 55.9826, 37.1751),
    ("Kommunarka", 55.5710, 37.4850),
    ("Khimki", 55.8890, 37.4450),
    ("Mytishchi", 55.9100, 37.7360),
    ("Balashikha", 55.7960, 37.9380),
    ("Lyubertsy", 55.6760, 37.8980),
    ("Podolsk", 55.4310, 37.5450),
    ("Krasnogorsk", 55.8310, 37.3300),
    ("Odintsovo", 55.6780, 37.2780),
    ("Korolyov", 55.9220, 37.8540),
    ("Reutov", 55.7600, 37.8600),
    ("Dolgoprudny", 55.9380, 37.5020),
    ("Elektrostal", 55.7840, 38.4450),
    ("Serpukhov", 54.9130, 37.4110),
];

/// Places of work: business districts, markets, warehouses, building
/// sites. Workplaces are drawn within 800 m of one.
pub const WORKPLACES: &[Place] = &[
    ("Moscow-City", 55.7490, 37.5370),
    ("Kitay-gorod", 55.7560, 37.6330),
    ("Kurskaya", 55.7580, 37.6590),
    ("VDNKh", 55.8290, 37.6370),
    ("Sadovod market", 55.6110, 37.7750),
    ("Food City", 55.5760, 37.4840),
    ("Tushino", 55.8270, 37.4370),
    ("Vnukovo warehouses", 55.6150, 37.2900),
    ("Kotelniki", 55.6600, 37.8640),
    ("Khimki logistics", 55.9050, 37.4000),
    ("Podolsk warehouses", 55.4530, 37.5750),
];

/// Cities outside the pilot region that people travel to.
pub const ELSEWHERE: &[Place] = &[
    ("Tver", 56.8587, 35.9176),
    ("Tula", 54.1930, 37.6180),
    ("Kaluga", 54.5140, 36.2610),
    ("Vladimir", 56.1290, 40.4070),
    ("Ryazan", 54.6290, 39.7360),
    ("Yaroslavl", 57.6260, 39.8840),
];

/// Where spoofed fixes land: the airports' terminal areas, and one far
/// city (the classic "teleport" of jammed phones in central Moscow).
pub const SPOOF_TARGETS: &[Place] = &[
    ("Sheremetyevo", 55.9726, 37.4146),
    ("Vnukovo", 55.5915, 37.2615),
    ("Domodedovo", 55.4088, 37.9063),
    ("Pulkovo", 59.8003, 30.2625),
];

/// How a person departs from the ordinary day.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Behaviour {
    /// Home, work, home; reports every interval.
    Regular,
    /// Stops reporting for good at this share of the run (0..1).
    GoesSilent { at: f64 },
    /// Out of the region for this share of the run.
    Trip { place: usize, from: f64, to: f64 },
    /// Every `every`-th fix is spoofed; `mock` says whether the phone
    /// admits it (Android's mock-location flag).
    Spoofer { every: u64, mock: bool },
    /// Offline for `offline_s` seconds of every `period_s`: fixes queue and
    /// go up in one burst when the network is back.
    OfflineSpells { period_s: u64, offline_s: u64 },
}

impl Behaviour {
    pub fn name(&self) -> &'static str {
        match self {
            Behaviour::Regular => "regular",
            Behaviour::GoesSilent { .. } => "goes_silent",
            Behaviour::Trip { .. } => "trip",
            Behaviour::Spoofer { .. } => "spoofer",
            Behaviour::OfflineSpells { .. } => "offline_spells",
        }
    }
}

/// Shares of people who behave otherwise than `Regular`.
#[derive(Debug, Clone, Copy)]
pub struct Mix {
    pub silent: f64,
    pub trip: f64,
    pub spoofer: f64,
    pub offline: f64,
}

impl Default for Mix {
    fn default() -> Self {
        Mix {
            silent: 0.02,
            trip: 0.03,
            spoofer: 0.03,
            offline: 0.10,
        }
    }
}

/// One simulated person and phone.
#[derive(Debug, Clone)]
pub struct PhonePlan {
    pub index: usize,
    pub home: (f64, f64),
    pub work: (f64, f64),
    /// Minutes after midnight (Moscow) the person leaves home.
    pub leave_home_min: u32,
    /// Minutes at work.
    pub work_min: u32,
    /// Also works on Saturdays.
    pub works_saturday: bool,
    pub behaviour: Behaviour,
    /// Offset of this phone's reports within the interval, so that phones
    /// do not all report in the same millisecond.
    pub phase: f64,
    /// Typical accuracy this phone states, metres.
    pub accuracy_m: f64,
}

/// Commuters cover the straight line at this average speed (metro plus
/// walking), metres per second.
const COMMUTE_SPEED_MPS: f64 = 8.0;

/// The card number of phone `index`: `SIM` and nine digits.
pub fn card_number(index: usize) -> String {
    format!("SIM{index:09}")
}

/// Plan phone `index` of a simulation with `seed`.
pub fn plan(seed: u64, index: usize, mix: &Mix) -> PhonePlan {
    let mut rng =
        ChaCha8Rng::seed_from_u64(seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let home_place = rng.random_range(0..HOMES.len());
    let work_place = rng.random_range(0..WORKPLACES.len());
    let home = jitter_m(&mut rng, HOMES[home_place], 1_500.0);
    let work = jitter_m(&mut rng, WORKPLACES[work_place], 800.0);
    let roll: f64 = rng.random();
    let behaviour = if roll < mix.silent {
        Behaviour::GoesSilent {
            at: rng.random_range(0.2..0.8),
        }
    } else if roll < mix.silent + mix.trip {
        let from = rng.random_range(0.1..0.5);
        Behaviour::Trip {
            place: rng.random_range(0..ELSEWHERE.len()),
            from,
            to: from + rng.random_range(0.2..0.4),
        }
    } else if roll < mix.silent + mix.trip + mix.spoofer {
        Behaviour::Spoofer {
            every: rng.random_range(3..8),
            mock: rng.random_bool(0.3),
        }
    } else if roll < mix.silent + mix.trip + mix.spoofer + mix.offline {
        let period_s = rng.random_range(60..600);
        Behaviour::OfflineSpells {
            period_s,
            offline_s: period_s * rng.random_range(3..7) / 10,
        }
    } else {
        Behaviour::Regular
    };
    PhonePlan {
        index,
        home,
        work,
        leave_home_min: rng.random_range(6 * 60 + 30..9 * 60 + 30),
        work_min: rng.random_range(8 * 60..11 * 60),
        works_saturday: rng.random_bool(0.4),
        behaviour,
        phase: rng.random(),
        accuracy_m: rng.random_range(5.0..40.0),
    }
}

/// One fix as the phone would record it.
#[derive(Debug, Clone, PartialEq)]
pub struct SimFix {
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: f64,
    pub mock: bool,
    /// Deliberately implausible (spoofed): the server should flag it.
    pub spoofed: bool,
    pub outside: bool,
}

/// Travellers go by train or coach: this average speed, metres per second,
/// so that the server sees a journey, not a teleport.
const TRAVEL_SPEED_MPS: f64 = 25.0;

/// When in the run a fix is taken.
#[derive(Debug, Clone, Copy)]
pub struct RunTime {
    /// Seconds since the run started.
    pub elapsed_s: f64,
    /// The run's length, seconds.
    pub duration_s: f64,
}

impl RunTime {
    fn progress(&self) -> f64 {
        self.elapsed_s / self.duration_s
    }
}

/// Where the phone is at `at` (`run` into the run) for its `seq`-th fix;
/// `None` when it has gone silent.
pub fn fix_at(seed: u64, p: &PhonePlan, seq: u64, at: Timestamp, run: RunTime) -> Option<SimFix> {
    let progress = run.progress();
    let mut rng = ChaCha8Rng::seed_from_u64(
        seed ^ (p.index as u64).wrapping_mul(0xD1B5_4A32_D192_ED03)
            ^ seq.wrapping_mul(0x94D0_49BB_1331_11EB),
    );
    let mut fix = SimFix {
        lat: 0.0,
        lon: 0.0,
        accuracy_m: (p.accuracy_m * rng.random_range(0.7..1.3)).round(),
        mock: false,
        spoofed: false,
        outside: false,
    };
    let place = match p.behaviour {
        Behaviour::GoesSilent { at } if progress >= at => return None,
        Behaviour::Trip { place, from, to } if progress >= from => {
            // Out at train speed from where the day had them, a stay in
            // the other city, and back the same way.
            let city = (ELSEWHERE[place].1, ELSEWHERE[place].2);
            let travelled_m =
                |since: f64| (run.elapsed_s - since * run.duration_s) * TRAVEL_SPEED_MPS;
            let (origin, towards, moved) = if progress < to {
                (position(p, at), city, travelled_m(from))
            } else {
                (city, position(p, at), travelled_m(to))
            };
            let total = haversine_m(origin, towards).max(1.0);
            let arrived = moved >= total;
            fix.outside = progress < to && arrived;
            if arrived && progress >= to {
                towards
            } else {
                lerp(origin, towards, moved / total)
            }
        }
        Behaviour::Spoofer { every, mock } if seq % every == every - 1 => {
            fix.spoofed = true;
            fix.mock = mock;
            let target = SPOOF_TARGETS[rng.random_range(0..SPOOF_TARGETS.len())];
            (target.1, target.2)
        }
        _ => position(p, at),
    };
    if fix.spoofed {
        (fix.lat, fix.lon) = place;
    } else {
        (fix.lat, fix.lon) = jitter_m(&mut rng, ("", place.0, place.1), fix.accuracy_m);
    }
    Some(fix)
}

/// Whether the phone has network at `elapsed_s` seconds into the run.
pub fn online(p: &PhonePlan, elapsed_s: f64) -> bool {
    match p.behaviour {
        Behaviour::OfflineSpells {
            period_s,
            offline_s,
        } => {
            let period = period_s as f64;
            let t = (elapsed_s + p.phase * period).rem_euclid(period);
            t >= offline_s as f64
        }
        _ => true,
    }
}

/// The ordinary day: home, commute, work, commute, home (Moscow time).
pub fn position(p: &PhonePlan, at: Timestamp) -> (f64, f64) {
    let local = amina_domain::time::moscow().to_datetime(at);
    let weekday = local.weekday().to_monday_zero_offset();
    let works_today = weekday < 5 || (weekday == 5 && p.works_saturday);
    if !works_today {
        return p.home;
    }
    let minute = f64::from(local.hour() as i32 * 60 + local.minute() as i32)
        + f64::from(local.second()) / 60.0;
    let commute_min = (haversine_m(p.home, p.work) / COMMUTE_SPEED_MPS / 60.0).max(10.0);
    let leave = f64::from(p.leave_home_min);
    let arrive = leave + commute_min;
    let leave_work = arrive + f64::from(p.work_min);
    let home_again = leave_work + commute_min;
    if minute < leave || minute >= home_again {
        p.home
    } else if minute < arrive {
        lerp(p.home, p.work, (minute - leave) / commute_min)
    } else if minute < leave_work {
        p.work
    } else {
        lerp(p.work, p.home, (minute - leave_work) / commute_min)
    }
}

fn lerp(a: (f64, f64), b: (f64, f64), t: f64) -> (f64, f64) {
    let t = t.clamp(0.0, 1.0);
    (a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t)
}

/// A point uniformly within `radius_m` of `place`.
fn jitter_m(rng: &mut ChaCha8Rng, place: Place, radius_m: f64) -> (f64, f64) {
    let r = radius_m * rng.random::<f64>().sqrt();
    let angle = rng.random_range(0.0..std::f64::consts::TAU);
    let dlat = r * angle.cos() / 111_320.0;
    let dlon = r * angle.sin() / (111_320.0 * place.1.to_radians().cos());
    (place.1 + dlat, place.2 + dlon)
}

pub fn haversine_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, lo1, la2, lo2) = (
        a.0.to_radians(),
        a.1.to_radians(),
        b.0.to_radians(),
        b.1.to_radians(),
    );
    let h = ((la2 - la1) / 2.0).sin().powi(2)
        + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * 6_371_008.8 * h.sqrt().asin()
}

/// The instant of a phone's `k`-th report in a run started at `start`.
pub fn report_instant(
    start: Timestamp,
    interval: SignedDuration,
    p: &PhonePlan,
    k: u64,
) -> Timestamp {
    let phase = interval.mul_f64(p.phase);
    start + phase + interval * (k as i32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use amina_domain::geofence::{Geofence, Zone};

    fn fence() -> Geofence {
        Geofence::embedded()
    }

    #[test]
    fn every_home_and_workplace_is_in_the_pilot_region_and_every_trip_outside() {
        let g = fence();
        for (name, lat, lon) in HOMES.iter().chain(WORKPLACES).chain(&SPOOF_TARGETS[..3]) {
            assert!(
                matches!(g.classify(*lat, *lon, 0.0), Zone::Inside(_)),
                "{name} must be inside the pilot region"
            );
        }
        for (name, lat, lon) in ELSEWHERE.iter().chain(&SPOOF_TARGETS[3..]) {
            assert_eq!(g.classify(*lat, *lon, 0.0), Zone::Outside, "{name}");
        }
    }

    #[test]
    fn plans_are_a_function_of_the_seed() {
        let mix = Mix::default();
        let a: Vec<_> = (0..50).map(|i| plan(7, i, &mix)).collect();
        let b: Vec<_> = (0..50).map(|i| plan(7, i, &mix)).collect();
        let c: Vec<_> = (0..50).map(|i| plan(8, i, &mix)).collect();
        for ((x, y), z) in a.iter().zip(&b).zip(&c) {
            assert_eq!(x.home, y.home);
            assert_eq!(x.behaviour, y.behaviour);
            assert_ne!(x.home, z.home, "another seed gives other homes");
        }
        let at: Timestamp = "2026-12-01T09:00:00Z".parse().unwrap();
        let run = RunTime {
            elapsed_s: 50.0,
            duration_s: 100.0,
        };
        assert_eq!(fix_at(7, &a[3], 5, at, run), fix_at(7, &b[3], 5, at, run));
    }

    #[test]
    fn the_mix_is_roughly_the_configured_shares() {
        let mix = Mix::default();
        let n = 20_000;
        let count = |name: &str| {
            (0..n)
                .filter(|&i| plan(1, i, &mix).behaviour.name() == name)
                .count() as f64
                / n as f64
        };
        assert!((count("goes_silent") - mix.silent).abs() < 0.01);
        assert!((count("trip") - mix.trip).abs() < 0.01);
        assert!((count("spoofer") - mix.spoofer).abs() < 0.01);
        assert!((count("offline_spells") - mix.offline).abs() < 0.015);
    }

    #[test]
    fn a_working_day_goes_home_commute_work_commute_home() {
        let mut p = plan(3, 0, &Mix::default());
        p.leave_home_min = 8 * 60;
        p.work_min = 9 * 60;
        // Tuesday 2026-12-01, Moscow = UTC+3.
        let at = |h: i64, m: i64| -> Timestamp {
            "2026-12-01T00:00:00+03:00".parse::<Timestamp>().unwrap()
                + SignedDuration::from_mins(h * 60 + m)
        };
        assert_eq!(position(&p, at(3, 0)), p.home);
        assert_eq!(position(&p, at(7, 59)), p.home);
        let commuting = position(&p, at(8, 5));
        assert!(commuting != p.home && commuting != p.work);
        assert_eq!(position(&p, at(13, 0)), p.work);
        assert_eq!(position(&p, at(23, 30)), p.home);
        // Sunday: at home all day.
        let sunday: Timestamp = "2026-12-06T13:00:00+03:00".parse().unwrap();
        assert_eq!(position(&p, sunday), p.home);
    }

    #[test]
    fn behaviours_show_in_the_fixes() {
        let mix = Mix::default();
        let at: Timestamp = "2026-12-01T12:00:00+03:00".parse().unwrap();
        let g = fence();
        // A ten-day run, so that trips have time to arrive.
        let day = 86_400.0;
        let when = |progress: f64| RunTime {
            elapsed_s: progress * 10.0 * day,
            duration_s: 10.0 * day,
        };
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..2_000 {
            let p = plan(11, i, &mix);
            match p.behaviour {
                Behaviour::GoesSilent { at: at_share } => {
                    assert!(fix_at(11, &p, 1, at, when(at_share - 0.01)).is_some());
                    assert!(fix_at(11, &p, 1, at, when(at_share + 1e-9)).is_none());
                }
                Behaviour::Trip { from, to, .. } => {
                    let f = fix_at(11, &p, 1, at, when((from + to) / 2.0)).unwrap();
                    assert!(f.outside);
                    assert_eq!(g.classify(f.lat, f.lon, f.accuracy_m), Zone::Outside);
                    // Ten minutes after leaving: on the way, not teleported.
                    let leaving = fix_at(11, &p, 1, at, when(from + 600.0 / (10.0 * day))).unwrap();
                    let from_home = haversine_m(position(&p, at), (leaving.lat, leaving.lon));
                    assert!((10_000.0..20_000.0).contains(&from_home), "{from_home} m");
                    // Back by the end of the run.
                    assert!(!fix_at(11, &p, 1, at, when(0.99)).unwrap().outside);
                }
                Behaviour::Spoofer { every, .. } => {
                    assert!(fix_at(11, &p, every - 1, at, when(0.5)).unwrap().spoofed);
                    assert!(!fix_at(11, &p, every, at, when(0.5)).unwrap().spoofed);
                }
                Behaviour::OfflineSpells {
                    period_s,
                    offline_s,
                } => {
                    let offline = (0..period_s).filter(|&s| !online(&p, s as f64)).count() as u64;
                    assert!(offline.abs_diff(offline_s) <= 1, "{offline} vs {offline_s}");
                }
                Behaviour::Regular => {
                    let f = fix_at(11, &p, 1, at, when(0.5)).unwrap();
                    assert!(matches!(g.classify(f.lat, f.lon, 0.0), Zone::Inside(_)));
                }
            }
            seen.insert(p.behaviour.name());
        }
        assert_eq!(seen.len(), 5, "every behaviour occurs: {seen:?}");
    }
}
