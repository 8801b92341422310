//! `amina crash-test`: kill the real server with SIGKILL at random moments
//! while simulated phones upload and the scheduler deregisters and
//! publishes, restart it, go on; check the database after every kill.
//!
//! One run: the database (which must be empty) gets the simulated phones'
//! cards and a number of people enrolled long ago who are overdue, so that
//! the scheduler has deregistrations (with their events and feed entries)
//! to do while it is being killed. `amina serve` runs as a child process on
//! a fixed port; the phones (`amina sim`, in this process) upload to it and
//! log every acknowledged fix. Each trial: let the server run for a random
//! time, SIGKILL it, check every invariant of [`crate::consistency`] against
//! the acknowledgements so far while nothing writes, start it again. At the
//! end the phones stop, the server drains (every overdue person
//! deregistered, every feed entry published) and everything is checked once
//! more.
//!
//! The overdue people are subscribed to Web Push at a push service on
//! loopback ([`crate::push_service`]), so the push queue carries load too:
//! their "no location" and "deregistered" notices are decided, leased, sent
//! (some refused with 503 and retried, some endpoints gone) while the
//! server is being killed, and after every kill the queue is compared with
//! what the push service accepted.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use amina_domain::eligibility::{CardRecord, Purpose};
use amina_domain::types::{CardNumber, Citizenship};
use anyhow::{bail, Context};
use clap::Args;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::consistency::{self, Findings};
use crate::push_service::{self, PushService};
use crate::sim;

#[derive(Args, Debug)]
pub struct CrashTestArgs {
    /// Kills (each followed by a check and a restart).
    #[arg(long, default_value_t = 10)]
    pub trials: usize,
    /// Simulated phones uploading throughout.
    #[arg(long, default_value_t = 20)]
    pub phones: usize,
    /// People enrolled long ago and overdue, for the scheduler to
    /// deregister while it is being killed.
    #[arg(long, default_value_t = 40)]
    pub overdue: usize,
    /// More overdue people added while the server is down after each
    /// kill, so that deregistrations and their pushes go on all through
    /// the run rather than only at its start.
    #[arg(long, default_value_t = 3)]
    pub overdue_per_kill: usize,
    /// Seed of the kill moments and of the phones.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Shortest time the server runs before a kill, seconds (from the
    /// moment it says it listens).
    #[arg(long, default_value_t = 0.05)]
    pub min_up: f64,
    /// Longest time the server runs before a kill, seconds.
    #[arg(long, default_value_t = 1.5)]
    pub max_up: f64,
    /// Where to keep the acknowledgement log and the server's output
    /// (a temporary directory, removed afterwards, when absent).
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// What a run did and found.
#[derive(Debug, Serialize)]
pub struct CrashReport {
    pub trials: usize,
    pub seconds: f64,
    pub seconds_per_trial: f64,
    /// Acknowledged fixes (distinct device and seq) checked at the end.
    pub fixes_acknowledged: u64,
    /// Sum over all checks of the acknowledged fixes each checked.
    pub ack_checks: u64,
    pub requests: u64,
    /// Failed requests by reason (`transport` while the server was down).
    pub request_errors: BTreeMap<String, u64>,
    pub checks: usize,
    pub failed_checks: usize,
    /// The first check that failed, if any.
    pub first_failure: Option<String>,
    pub final_check: Findings,
    /// What the push service on loopback took.
    pub push: PushLoad,
}

/// The push queue's load over the run.
#[derive(Debug, Serialize)]
pub struct PushLoad {
    /// People subscribed at the loopback push service.
    pub subscribed: usize,
    /// Pushes accepted (201), repeats included.
    pub accepted: u64,
    /// Accepted more than once: a kill between the answer and its record.
    pub repeats: u64,
    /// First attempts refused with 503 and retried.
    pub refused_retry: u64,
    /// Answers 410 from the gone endpoints.
    pub refused_gone: u64,
    /// Kills after which the queue held notices not yet answered (the
    /// kill cut through the queue's work, not an idle queue).
    pub kills_with_pending: usize,
    /// Queue rows at the end, by state.
    pub queue: BTreeMap<String, u64>,
}

struct Server {
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(database: &str, listen: &str, log: &Path) -> anyhow::Result<Server> {
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
    let mut child = Command::new(std::env::current_exe()?)
        .args(["serve", "--listen", listen, "--database", database])
        .env("AMINA_SCHEDULER__INTERVAL_S", "1")
        .env("AMINA_SCHEDULER__BATCH_SIZE", "3")
        .env("AMINA_INTEGRATION__PUBLISH_BATCH", "2")
        // Pushes at any hour, retried and re-leased within seconds, to the
        // push service on loopback.
        .env("AMINA_PUSH__QUIET_START", "00:00")
        .env("AMINA_PUSH__QUIET_END", "00:00")
        .env("AMINA_PUSH__RETRY_BASE_S", "1")
        .env("AMINA_PUSH__RETRY_MAX_S", "2")
        .env("AMINA_PUSH__LEASE_S", "3")
        .env("AMINA_PUSH__ALLOW_LOOPBACK_HTTP", "true")
        .env(
            "RUST_LOG",
            std::env::var("AMINA_CRASH_SERVER_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .context("starting amina serve")?;
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut said = false;
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if !said && line.starts_with("amina listening on ") {
                said = true;
                let _ = tx.send(());
            }
        }
    });
    let server = Server { child };
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(()) => Ok(server),
        Err(_) => bail!(
            "the server did not start within 60 s; its log: {}",
            log.display()
        ),
    }
}

/// SIGKILL, and wait until the process is gone.
fn kill(mut server: Server) -> anyhow::Result<()> {
    server.child.kill()?;
    server.child.wait()?;
    Ok(())
}

fn crash_card(number: String, i: usize) -> anyhow::Result<CardRecord> {
    Ok(CardRecord {
        number: CardNumber::parse(&number)?,
        secret_hash: amina_server::cards::hash_secret(sim::SIM_SECRET),
        name_latin: format!("Crash Person {i}"),
        name_cyrillic: format!("Краш Персона {i}"),
        citizenship: Citizenship::parse("UZB")?,
        birth_date: jiff::civil::date(1990, 1, 1),
        purpose: Purpose::Work,
        valid_until: jiff::civil::date(2030, 12, 31),
    })
}

/// Sixty days ago: long enough for anyone enrolled then to be overdue.
fn long_ago() -> jiff::Timestamp {
    jiff::Timestamp::now() - jiff::SignedDuration::from_hours(60 * 24)
}

async fn seed_database(database: &str, args: &CrashTestArgs) -> anyhow::Result<()> {
    let store = amina_store::open(database).await?;
    store.migrate().await?;
    let counts = store.counts().await?;
    anyhow::ensure!(
        counts.persons_registered + counts.persons_deregistered == 0 && counts.fixes == 0,
        "crash-test needs an empty database: it checks every row it finds"
    );
    let cards = (0..args.phones)
        .map(|i| crash_card(sim::model::card_number(i), i))
        .collect::<anyhow::Result<Vec<_>>>()?;
    store.import_cards(cards, long_ago()).await?;
    Ok(())
}

/// Enrol the overdue people numbered `range`, each with a phone bound and
/// subscribed to the push service (subscriber `i`), which then never
/// reported: the scheduler's next pass deregisters them and pushes the
/// notice. Runs while the server is down, as if their deadlines had just
/// passed.
async fn add_overdue(
    database: &str,
    range: std::ops::Range<usize>,
    push: &PushService,
) -> anyhow::Result<()> {
    let store = amina_store::open(database).await?;
    let config = amina_server::config::Config::default();
    let monitor = amina_server::state::build_monitor(&config)?;
    let long_ago = long_ago();
    let cards = range
        .clone()
        .map(|i| crash_card(format!("LATE{i:06}"), i))
        .collect::<anyhow::Result<Vec<_>>>()?;
    store.import_cards(cards.clone(), long_ago).await?;
    let minute = jiff::SignedDuration::from_mins(1);
    for (i, c) in range.zip(&cards) {
        let subscriber = &push.subscribers()[i];
        let mut token = [0u8; 32];
        token[..8].copy_from_slice(&(i as u64).to_le_bytes());
        token[8] = 0xc7;
        store
            .enrol(
                &monitor,
                &c.number,
                amina_store::NewBindingToken {
                    hash: token,
                    expires_at: long_ago + 10 * minute,
                    issued_by: "crash-test".into(),
                },
                long_ago,
            )
            .await?;
        let key = amina_client::key::DeviceKey::generate();
        let device = store
            .bind_device(
                token,
                amina_store::NewDevice {
                    id: format!("dv_crash_overdue_{i}"),
                    public_key: key.public_sec1().to_vec(),
                    key_thumbprint: key.thumbprint(),
                    kind: "test".into(),
                    actor: "self".into(),
                },
                long_ago + minute,
            )
            .await?;
        store
            .put_subscription(
                &device.id,
                amina_store::NewSubscription {
                    endpoint: subscriber.endpoint.clone(),
                    p256dh: subscriber.p256dh.clone(),
                    auth: subscriber.auth.to_vec(),
                    lang: ["ru", "uz", "tg", "ky", "en"][i % 5].into(),
                },
                long_ago + 2 * minute,
            )
            .await?;
    }
    Ok(())
}

/// The invariants of the push queue against what the push service took,
/// and how many notices are still pending.
async fn check_push(
    database: &str,
    push: &PushService,
    kills: usize,
    drained: bool,
) -> anyhow::Result<(Vec<String>, usize)> {
    let db = consistency::Db::open(database).await?;
    let rows = push_service::queue(&db).await?;
    let pending = rows.iter().filter(|r| r.state == "pending").count();
    Ok((
        push_service::compare(&rows, &push.seen(), kills, drained),
        pending,
    ))
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

pub async fn run(database: &str, args: &CrashTestArgs) -> anyhow::Result<CrashReport> {
    anyhow::ensure!(args.trials > 0, "--trials must be at least 1");
    anyhow::ensure!(
        0.0 <= args.min_up && args.min_up <= args.max_up,
        "need 0 <= --min-up <= --max-up"
    );
    let temp;
    let work_dir = match &args.work_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            dir.clone()
        }
        None => {
            temp = tempfile::tempdir()?;
            temp.path().to_path_buf()
        }
    };
    let ack_log = work_dir.join("acks.log");
    let server_log = work_dir.join("server.log");
    let _ = std::fs::remove_file(&ack_log);
    std::fs::write(&ack_log, "")?;

    let overdue_total = args.overdue + args.trials * args.overdue_per_kill;
    let push = PushService::start(overdue_total).await?;
    seed_database(database, args).await?;
    add_overdue(database, 0..args.overdue, &push).await?;
    let listen = format!("127.0.0.1:{}", free_port()?);
    let url = format!("http://{listen}");
    let mut server = start_server(database, &listen, &server_log)?;

    let (enrolled_tx, enrolled_rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let sim_args = sim::RunArgs {
        url: vec![url],
        phones: args.phones,
        first: 0,
        seed: args.seed,
        interval: 0.25,
        batch: 2,
        duration: 24.0 * 3600.0,
        enrol_concurrency: 4,
        silent: 0.0,
        trip: 0.1,
        spoofer: 0.1,
        offline: 0.2,
        // Sessions outlive the server: after each restart the phones go on
        // in the sessions they opened, read back from the database.
        proof: sim::Proof::Session,
        json: false,
        quiet: true,
        ack_log: Some(ack_log.clone()),
    };
    let phones = tokio::spawn(async move {
        sim::play_with(
            &sim_args,
            sim::Control {
                enrolled: Some(enrolled_tx),
                stop: Some(stop_rx),
            },
        )
        .await
    });
    if enrolled_rx.await.is_err() {
        // The simulator ended before enrolling everyone: its error says why.
        phones.await??;
        bail!("the phones stopped before they were enrolled");
    }

    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(args.seed);
    let began = Instant::now();
    let mut checks = 0;
    let mut failed_checks = 0;
    let mut first_failure = None;
    let mut ack_checks = 0;
    let mut kills_with_pending = 0;
    for trial in 1..=args.trials {
        let up = rng.random_range(args.min_up..=args.max_up);
        tokio::time::sleep(Duration::from_secs_f64(up)).await;
        kill(server)?;
        let acks = consistency::read_ack_log(&ack_log)?;
        let findings = consistency::check(database, Some(&acks)).await?;
        let (push_findings, pending) = check_push(database, &push, trial, false).await?;
        if pending > 0 {
            kills_with_pending += 1;
        }
        checks += 1;
        ack_checks += findings.acknowledged;
        if !findings.ok() || !push_findings.is_empty() {
            failed_checks += 1;
            let text = format!(
                "after kill {trial} (up {up:.2} s):\n{}{}",
                findings.to_text(),
                push_findings.join("\n")
            );
            eprintln!("{text}");
            first_failure.get_or_insert(text);
        }
        let first = args.overdue + (trial - 1) * args.overdue_per_kill;
        add_overdue(database, first..first + args.overdue_per_kill, &push).await?;
        server = start_server(database, &listen, &server_log)?;
    }
    let seconds = began.elapsed().as_secs_f64();

    // Stop the phones; let the server finish the scheduler's work.
    let _ = stop_tx.send(true);
    let report = phones.await??;
    let store = amina_store::open(database).await?;
    let drained = Instant::now();
    loop {
        let c = store.counts().await?;
        let db = consistency::Db::open(database).await?;
        let unpublished = db
            .scalar("SELECT count(*) FROM integration_feed WHERE position IS NULL")
            .await?;
        let pushes_pending = db
            .scalar("SELECT count(*) FROM push_outbox WHERE state = 'pending'")
            .await?;
        // Each overdue person's "deregistered" notice is decided (or
        // dropped, for a gone endpoint) once the deregistration is seen.
        let deregistered_notices = db
            .scalar("SELECT count(*) FROM push_outbox WHERE kind = 'deregistered'")
            .await?;
        let gone = (0..overdue_total)
            .filter(|&n| PushService::is_gone(n))
            .count();
        if c.persons_deregistered as usize >= overdue_total
            && unpublished == 0
            && pushes_pending == 0
            && deregistered_notices as usize >= overdue_total - gone
        {
            break;
        }
        if drained.elapsed() > Duration::from_secs(120) {
            bail!(
                "the server did not finish its work within 120 s after the last restart: \
                 {} of {} overdue people deregistered, {unpublished} feed entries unpublished, \
                 {pushes_pending} pushes pending, {deregistered_notices} 'deregistered' notices",
                c.persons_deregistered,
                overdue_total
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(store);
    kill(server)?;
    let acks = consistency::read_ack_log(&ack_log)?;
    let final_check = consistency::check(database, Some(&acks)).await?;
    let (push_findings, _) = check_push(database, &push, args.trials + 1, true).await?;
    checks += 1;
    ack_checks += final_check.acknowledged;
    if !final_check.ok() || !push_findings.is_empty() {
        failed_checks += 1;
        first_failure.get_or_insert(format!(
            "final check:\n{}{}",
            final_check.to_text(),
            push_findings.join("\n")
        ));
    }
    let mut push = push_load(database, &push, overdue_total).await?;
    push.kills_with_pending = kills_with_pending;
    // The queue must have carried load of every kind, or the push checks
    // above proved nothing.
    if push.accepted == 0
        || push.refused_retry == 0
        || (overdue_total >= 5 && push.refused_gone == 0)
    {
        failed_checks += 1;
        first_failure.get_or_insert(format!("the push queue carried too little load: {push:?}"));
    }
    let deregistered = final_check.counts.get("deregistrations").copied();
    if deregistered != Some(overdue_total as i64) {
        failed_checks += 1;
        first_failure.get_or_insert(format!(
            "{deregistered:?} deregistrations, expected {overdue_total} (one per overdue person)"
        ));
    }
    Ok(CrashReport {
        trials: args.trials,
        seconds,
        seconds_per_trial: seconds / args.trials as f64,
        fixes_acknowledged: final_check.acknowledged,
        ack_checks,
        requests: report.requests,
        request_errors: report.errors,
        checks,
        failed_checks,
        first_failure,
        final_check,
        push,
    })
}

async fn push_load(
    database: &str,
    push: &PushService,
    subscribed: usize,
) -> anyhow::Result<PushLoad> {
    let seen = push.seen();
    let distinct: std::collections::HashSet<_> = seen
        .accepted
        .iter()
        .map(|d| (d.endpoint.as_str(), d.tag.as_str()))
        .collect();
    let db = consistency::Db::open(database).await?;
    let queue = db
        .pairs("SELECT state, count(*) FROM push_outbox GROUP BY state ORDER BY state")
        .await?
        .into_iter()
        .map(|(state, n)| (state, n as u64))
        .collect();
    Ok(PushLoad {
        subscribed,
        accepted: seen.accepted_count,
        repeats: seen.accepted_count - distinct.len() as u64,
        refused_retry: seen.refused_retry,
        refused_gone: seen.refused_gone,
        kills_with_pending: 0,
        queue,
    })
}

impl CrashReport {
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "{} kill(s) in {:.1} s ({:.2} s each); {} check(s), {} failed\n\
             acknowledged fixes: {} at the end, {} checked over all checks; {} requests\n",
            self.trials,
            self.seconds,
            self.seconds_per_trial,
            self.checks,
            self.failed_checks,
            self.fixes_acknowledged,
            self.ack_checks,
            self.requests
        );
        s.push_str("request errors:");
        for (reason, n) in &self.request_errors {
            s.push_str(&format!(" {reason}={n}"));
        }
        s.push('\n');
        let p = &self.push;
        s.push_str(&format!(
            "pushes: {} people subscribed; {} accepted ({} repeats after kills), {} refused \
             with 503 and retried, {} answered 410; {} kill(s) with notices pending; queue:",
            p.subscribed,
            p.accepted,
            p.repeats,
            p.refused_retry,
            p.refused_gone,
            p.kills_with_pending
        ));
        for (state, n) in &p.queue {
            s.push_str(&format!(" {state}={n}"));
        }
        s.push('\n');
        s.push_str(&self.final_check.to_text());
        if let Some(failure) = &self.first_failure {
            s.push_str(&format!("FIRST FAILURE {failure}\n"));
        }
        s
    }
}
