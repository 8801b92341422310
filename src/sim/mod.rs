//! `amina sim`: many phones against a running server, over HTTP.
//!
//! Each simulated phone is a real client: its own P-256 key, enrolled and
//! bound through the public API, every upload signed (RFC 9421). The phones
//! move as `model` says, record a fix every `--interval`, and upload when
//! `--batch` fixes have queued and the phone is online, as the app does.
//! The run reports what a load test needs: requests and fixes per second,
//! latency percentiles (HdrHistogram) and errors by the server's reason.
//!
//! Cards: the server must know the simulated card numbers. `amina sim cards`
//! writes them as an import file (`amina import cards`), all sharing one
//! Argon2id hash so that importing a million cards takes seconds; the
//! secret is printed, never stored in clear.

pub mod model;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use amina_client::device::{ClientError, DeviceClient};
use amina_client::proto::{FixWire, IngestResponse};
use anyhow::Context;
use clap::{Args, Subcommand};
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use model::{Mix, PhonePlan};

/// The activation secret of every simulated card.
pub const SIM_SECRET: &str = "sim-secret";

/// The server keeps batches to this many fixes (docs/api.md).
const MAX_FIXES_PER_REQUEST: usize = 100;

#[derive(Subcommand, Debug)]
pub enum SimCommand {
    /// Write the simulated phones' card records as an import file.
    Cards(CardsArgs),
    /// Play phones against a running server and report throughput and latency.
    Run(RunArgs),
}

#[derive(Args, Debug)]
pub struct CardsArgs {
    /// Number of phones (cards SIM000000000 …).
    #[arg(long, default_value_t = 100)]
    pub phones: usize,
    /// Output file; standard output when absent.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// The server, e.g. http://127.0.0.1:8080. Several, comma-separated,
    /// spread the phones over them (one node each in turn).
    #[arg(long, value_delimiter = ',', default_value = "http://127.0.0.1:8080")]
    pub url: Vec<String>,
    /// Number of phones (their cards must be imported: `amina sim cards`).
    #[arg(long, default_value_t = 100)]
    pub phones: usize,
    /// First phone's index, so that several simulators can share a server.
    #[arg(long, default_value_t = 0)]
    pub first: usize,
    /// Seed of the phones' homes, workplaces and behaviour.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Seconds between two fixes of one phone (the app uses 60, a load
    /// test at Moscow scale 300 over 3 million phones).
    #[arg(long, default_value_t = 60.0)]
    pub interval: f64,
    /// Fixes per upload: a phone uploads when this many have queued.
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    /// How long to play, seconds.
    #[arg(long, default_value_t = 60.0)]
    pub duration: f64,
    /// Enrolments in flight at once (each costs the server an Argon2id check).
    #[arg(long, default_value_t = 4)]
    pub enrol_concurrency: usize,
    /// Share of phones that go silent part-way.
    #[arg(long, default_value_t = Mix::default().silent)]
    pub silent: f64,
    /// Share of phones that travel out of the region for a while.
    #[arg(long, default_value_t = Mix::default().trip)]
    pub trip: f64,
    /// Share of phones with spoofed fixes.
    #[arg(long, default_value_t = Mix::default().spoofer)]
    pub spoofer: f64,
    /// Share of phones with offline spells (fixes go up in bursts).
    #[arg(long, default_value_t = Mix::default().offline)]
    pub offline: f64,
    /// How phones prove their requests: a key-bound session (one signed
    /// request, then an HMAC tag per request, as the app does) or a device
    /// signature on every request.
    #[arg(long, value_enum, default_value_t = Proof::Session)]
    pub proof: Proof,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// No progress bar (it is hidden anyway when stderr is not a terminal).
    #[arg(long)]
    pub quiet: bool,
    /// Append one line `DEVICE_ID SEQ` per fix the server acknowledged
    /// (HTTP 200, stored now or already), written as each answer arrives:
    /// what a crash or restart test checks against the database.
    #[arg(long)]
    pub ack_log: Option<PathBuf>,
}

/// How a simulated phone proves its requests (see `amina_client::session`).
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    /// One signed `POST /v1/device-sessions`, then an HMAC tag per request.
    Session,
    /// An ECDSA P-256 signature on every request.
    Signature,
}

impl Proof {
    /// A phone sending through `http` that proves its requests this way.
    pub fn phone(self, base: &str, http: reqwest::Client) -> DeviceClient {
        let phone = DeviceClient::with_http(base, http);
        match self {
            Proof::Session => phone.with_sessions(),
            Proof::Signature => phone,
        }
    }
}

impl RunArgs {
    /// A small, quiet, day-long simulation for `amina demo`.
    pub fn demo(url: String, phones: usize, interval: f64) -> Self {
        let mix = Mix::default();
        RunArgs {
            url: vec![url],
            phones,
            first: 0,
            seed: 1,
            interval,
            batch: 1,
            duration: 24.0 * 3600.0,
            enrol_concurrency: 2,
            silent: 0.05,
            trip: 0.05,
            spoofer: mix.spoofer,
            offline: mix.offline,
            proof: Proof::Session,
            json: false,
            quiet: true,
            ack_log: None,
        }
    }

    fn mix(&self) -> Mix {
        Mix {
            silent: self.silent,
            trip: self.trip,
            spoofer: self.spoofer,
            offline: self.offline,
        }
    }
}

pub async fn run(command: SimCommand) -> anyhow::Result<()> {
    match command {
        SimCommand::Cards(args) => write_cards(&args),
        SimCommand::Run(args) => {
            let report = play(&args).await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.to_text());
            }
            Ok(())
        }
    }
}

fn write_cards(args: &CardsArgs) -> anyhow::Result<()> {
    let hash = amina_server::cards::hash_secret(SIM_SECRET);
    let out: Box<dyn std::io::Write> = match &args.out {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    // The PHC string has commas: the csv writer quotes it.
    let mut csv = csv::Writer::from_writer(out);
    csv.write_record([
        "card_number",
        "activation_secret",
        "activation_secret_hash",
        "name_latin",
        "name_cyrillic",
        "citizenship",
        "birth_date",
        "purpose",
        "valid_until",
    ])?;
    const CITIZENSHIPS: [&str; 4] = ["UZB", "TJK", "KGZ", "ARM"];
    for i in 0..args.phones {
        csv.write_record([
            model::card_number(i).as_str(),
            "",
            &hash,
            &format!("Sim Person {i}"),
            &format!("Сим Персона {i}"),
            CITIZENSHIPS[i % CITIZENSHIPS.len()],
            "1990-01-01",
            "work",
            "2030-12-31",
        ])?;
    }
    csv.flush()?;
    if args.out.is_some() {
        eprintln!(
            "{} cards written; import them with `amina import cards FILE`; every card's secret is {SIM_SECRET:?}",
            args.phones
        );
    }
    Ok(())
}

/// What a run measured.
#[derive(Debug, Serialize)]
pub struct Report {
    pub phones: usize,
    pub enrolled: usize,
    pub enrol_seconds: f64,
    pub seconds: f64,
    pub requests: u64,
    pub requests_per_s: f64,
    /// Fixes the server acknowledged as stored by this run (new ones).
    pub fixes_accepted: u64,
    /// Fixes acknowledged as already stored (retries after a lost answer).
    pub fixes_duplicate: u64,
    /// Newly stored fixes per second of play.
    pub fixes_per_s: f64,
    /// Accepted fixes the server flagged as implausible.
    pub fixes_flagged: u64,
    /// Fixes the phones made up as spoofed (the flagged count should be
    /// close: the first fix after a long gap cannot be judged).
    pub fixes_spoofed_sent: u64,
    /// Fixes still queued on phones at the end (offline or failed).
    pub fixes_left_on_phones: u64,
    pub latency_ms: Latency,
    /// Failed requests by the server's reason (`transport` when no answer).
    pub errors: BTreeMap<String, u64>,
    /// Phones per behaviour.
    pub behaviours: BTreeMap<String, u64>,
}

#[derive(Debug, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Report {
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        let errors: u64 = self.errors.values().sum();
        s.push_str(&format!(
            "phones: {} enrolled of {} in {:.1} s\n",
            self.enrolled, self.phones, self.enrol_seconds
        ));
        s.push_str(&format!(
            "played {:.1} s: {} requests ({:.0}/s), {} fixes stored ({:.0}/s), {} duplicates, {} flagged ({} spoofed sent), {} left on phones\n",
            self.seconds,
            self.requests,
            self.requests_per_s,
            self.fixes_accepted,
            self.fixes_per_s,
            self.fixes_duplicate,
            self.fixes_flagged,
            self.fixes_spoofed_sent,
            self.fixes_left_on_phones
        ));
        s.push_str(&format!(
            "latency: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms\n",
            self.latency_ms.p50, self.latency_ms.p90, self.latency_ms.p99, self.latency_ms.max
        ));
        s.push_str(&format!("errors: {errors}"));
        for (reason, n) in &self.errors {
            s.push_str(&format!(" {reason}={n}"));
        }
        s.push('\n');
        s.push_str("behaviours:");
        for (b, n) in &self.behaviours {
            s.push_str(&format!(" {b}={n}"));
        }
        s.push('\n');
        s
    }
}

/// Counters shared by the phones of a run.
#[derive(Default)]
struct Tally {
    requests: u64,
    accepted: u64,
    duplicate: u64,
    flagged: u64,
    spoofed_sent: u64,
    left: u64,
    errors: BTreeMap<String, u64>,
}

struct Shared {
    tally: Mutex<Tally>,
    latency_us: Mutex<Histogram<u64>>,
    /// `--ack-log`: acknowledged fixes, one line each.
    ack_log: Option<Mutex<std::io::LineWriter<std::fs::File>>>,
}

/// How a harness steers a run from outside (`amina crash-test`).
#[derive(Default)]
pub struct Control {
    /// Told once every phone is enrolled and bound.
    pub enrolled: Option<tokio::sync::oneshot::Sender<()>>,
    /// When it turns true, the phones stop recording and the run ends
    /// (before `--duration` if need be).
    pub stop: Option<tokio::sync::watch::Receiver<bool>>,
}

/// Enrol the phones, play them for the duration, and report.
pub async fn play(args: &RunArgs) -> anyhow::Result<Report> {
    play_with(args, Control::default()).await
}

/// [`play`], steered by `control`.
pub async fn play_with(args: &RunArgs, control: Control) -> anyhow::Result<Report> {
    anyhow::ensure!(!args.url.is_empty(), "--url names no server");
    anyhow::ensure!(args.interval > 0.0, "--interval must be positive");
    anyhow::ensure!(
        (1..=MAX_FIXES_PER_REQUEST).contains(&args.batch),
        "--batch must be 1..={MAX_FIXES_PER_REQUEST}"
    );
    let mix = args.mix();
    anyhow::ensure!(
        [mix.silent, mix.trip, mix.spoofer, mix.offline]
            .iter()
            .all(|s| (0.0..=1.0).contains(s))
            && mix.silent + mix.trip + mix.spoofer + mix.offline <= 1.0,
        "the behaviour shares must be in 0..1 and add up to at most 1"
    );
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .timeout(Duration::from_secs(30))
        .build()?;
    let plans: Vec<PhonePlan> = (args.first..args.first + args.phones)
        .map(|i| model::plan(args.seed, i, &mix))
        .collect();

    let progress = |len: u64, what: &str| {
        let bar = if args.quiet {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(len)
        };
        bar.set_style(
            ProgressStyle::with_template(&format!(
                "{what} {{bar:30}} {{pos}}/{{len}} {{per_sec}} {{msg}}"
            ))
            .expect("the template is valid"),
        );
        bar
    };

    // Enrol and bind, a few at a time: each enrolment is an Argon2id check.
    let began = Instant::now();
    let bar = progress(plans.len() as u64, "enrolling");
    let sem = Arc::new(tokio::sync::Semaphore::new(args.enrol_concurrency.max(1)));
    let mut tasks = Vec::with_capacity(plans.len());
    for (n, plan) in plans.iter().enumerate() {
        let base = &args.url[n % args.url.len()];
        let mut phone = args.proof.phone(base, http.clone());
        let card = model::card_number(plan.index);
        let sem = Arc::clone(&sem);
        let bar = bar.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire().await.expect("the semaphore is never closed");
            let r = phone.enrol_and_bind(&card, SIM_SECRET).await;
            bar.inc(1);
            r.map(|_| phone).map_err(|e| (card, e))
        }));
    }
    let mut phones = Vec::with_capacity(plans.len());
    for t in tasks {
        match t.await? {
            Ok(phone) => phones.push(phone),
            Err((card, e)) => {
                bar.abandon();
                anyhow::bail!(
                    "enrolling {card} failed: {e} (were the cards imported? `amina sim cards --phones N --out cards.csv && amina import cards cards.csv`)"
                )
            }
        }
    }
    bar.finish_and_clear();
    let enrol_seconds = began.elapsed().as_secs_f64();
    if let Some(enrolled) = control.enrolled {
        let _ = enrolled.send(());
    }
    let ack_log = match &args.ack_log {
        Some(path) => Some(Mutex::new(std::io::LineWriter::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("opening {}", path.display()))?,
        ))),
        None => None,
    };

    // Play.
    let shared = Arc::new(Shared {
        tally: Mutex::new(Tally::default()),
        latency_us: Mutex::new(
            Histogram::new_with_bounds(1, 120_000_000, 3).expect("valid histogram bounds"),
        ),
        ack_log,
    });
    let interval = SignedDuration::from_secs_f64(args.interval);
    let duration = Duration::from_secs_f64(args.duration);
    let start_wall = Timestamp::now();
    let start = tokio::time::Instant::now();
    let expected = (args.duration / args.interval * args.phones as f64).max(1.0) as u64;
    let bar = progress(expected, "fixes");
    let mut tasks = Vec::with_capacity(phones.len());
    for (phone, plan) in phones.into_iter().zip(plans.iter().cloned()) {
        let shared = Arc::clone(&shared);
        let bar = bar.clone();
        let seed = args.seed;
        let batch = args.batch;
        let stop = control.stop.clone();
        tasks.push(tokio::spawn(async move {
            play_phone(
                phone, plan, seed, batch, interval, start, start_wall, duration, &shared, &bar,
                stop,
            )
            .await
        }));
    }
    let ticker = {
        let shared = Arc::clone(&shared);
        let bar = bar.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                let t = shared.tally.lock().expect("no panics hold the lock");
                let errors: u64 = t.errors.values().sum();
                bar.set_message(format!("{} requests, {errors} errors", t.requests));
            }
        })
    };
    for t in tasks {
        t.await?;
    }
    ticker.abort();
    bar.finish_and_clear();
    let seconds = start.elapsed().as_secs_f64();

    let t = shared.tally.lock().expect("no panics hold the lock");
    let h = shared.latency_us.lock().expect("no panics hold the lock");
    let q = |p: f64| h.value_at_quantile(p) as f64 / 1e3;
    let mut behaviours = BTreeMap::new();
    for p in &plans {
        *behaviours
            .entry(p.behaviour.name().to_string())
            .or_insert(0) += 1;
    }
    Ok(Report {
        phones: args.phones,
        enrolled: plans.len(),
        enrol_seconds,
        seconds,
        requests: t.requests,
        requests_per_s: t.requests as f64 / seconds,
        fixes_accepted: t.accepted,
        fixes_duplicate: t.duplicate,
        fixes_per_s: t.accepted as f64 / seconds,
        fixes_flagged: t.flagged,
        fixes_spoofed_sent: t.spoofed_sent,
        fixes_left_on_phones: t.left,
        latency_ms: Latency {
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            max: h.max() as f64 / 1e3,
        },
        errors: t.errors.clone(),
        behaviours,
    })
}

/// One phone's life for the run: record on schedule, upload when a batch
/// has queued and the network is there, keep what failed for the next try.
#[allow(clippy::too_many_arguments)]
async fn play_phone(
    phone: DeviceClient,
    plan: PhonePlan,
    seed: u64,
    batch: usize,
    interval: SignedDuration,
    start: tokio::time::Instant,
    start_wall: Timestamp,
    duration: Duration,
    shared: &Shared,
    bar: &ProgressBar,
    stop: Option<tokio::sync::watch::Receiver<bool>>,
) {
    let mut queue: Vec<FixWire> = Vec::new();
    let mut spoofed_sent = 0u64;
    let step = Duration::try_from(interval).expect("a positive interval");
    for k in 0u64.. {
        let offset = step.mul_f64(plan.phase) + step * (k as u32);
        if offset >= duration {
            break;
        }
        tokio::time::sleep_until(start + offset).await;
        if stop.as_ref().is_some_and(|s| *s.borrow()) {
            break;
        }
        let at = model::report_instant(start_wall, interval, &plan, k);
        let run = model::RunTime {
            elapsed_s: offset.as_secs_f64(),
            duration_s: duration.as_secs_f64(),
        };
        let seq = k + 1;
        let Some(f) = model::fix_at(seed, &plan, seq, at, run) else {
            continue; // silent from now on: nothing recorded, nothing sent
        };
        spoofed_sent += u64::from(f.spoofed);
        queue.push(FixWire {
            seq: seq as i64,
            lat: f.lat,
            lon: f.lon,
            accuracy_m: f.accuracy_m,
            recorded_at: at.to_string(),
            source: "gps".into(),
            mock: f.mock,
            battery_pct: Some(90 - (k % 60) as i64),
        });
        bar.inc(1);
        if queue.len() < batch || !model::online(&plan, offset.as_secs_f64()) {
            continue;
        }
        while !queue.is_empty() {
            let n = queue.len().min(MAX_FIXES_PER_REQUEST);
            let t0 = Instant::now();
            let result = phone.upload(&queue[..n]).await;
            let elapsed_us = t0.elapsed().as_micros() as u64;
            let device_id = phone.device_id.as_deref().unwrap_or_default();
            match record(shared, device_id, elapsed_us, &result) {
                Outcome::Stored => {
                    queue.drain(..n);
                }
                // The server refused these fixes for good (a 4xx other than
                // 429): the app drops them too.
                Outcome::Refused => {
                    queue.drain(..n);
                    break;
                }
                // No answer, 429 or 5xx: keep the queue; the next report retries.
                Outcome::Retry => break,
            }
        }
    }
    let mut t = shared.tally.lock().expect("no panics hold the lock");
    t.left += queue.len() as u64;
    t.spoofed_sent += spoofed_sent;
}

enum Outcome {
    Stored,
    Refused,
    Retry,
}

fn record(
    shared: &Shared,
    device_id: &str,
    elapsed_us: u64,
    result: &Result<IngestResponse, ClientError>,
) -> Outcome {
    shared
        .latency_us
        .lock()
        .expect("no panics hold the lock")
        .saturating_record(elapsed_us.max(1));
    let mut t = shared.tally.lock().expect("no panics hold the lock");
    t.requests += 1;
    match result {
        Ok(r) => {
            t.accepted += r.accepted.len() as u64;
            t.duplicate += r.duplicates.len() as u64;
            t.flagged += r.flagged.len() as u64;
            if let Some(log) = &shared.ack_log {
                let mut log = log.lock().expect("no panics hold the lock");
                for seq in r.accepted.iter().chain(&r.duplicates) {
                    // A failed write must not pass silently: the log is evidence.
                    writeln!(log, "{device_id} {seq}").expect("writing the --ack-log file");
                }
            }
            Outcome::Stored
        }
        Err(e) => {
            let reason = e.code().unwrap_or("transport").to_string();
            *t.errors.entry(reason).or_insert(0) += 1;
            match e.status() {
                Some(429) | None => Outcome::Retry,
                Some(s) if s >= 500 => Outcome::Retry,
                Some(_) => Outcome::Refused,
            }
        }
    }
}
