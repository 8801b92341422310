//! `amina`: one binary, one subcommand per role.
//!
//! `main` parses the command line, loads configuration and hands over to a
//! library function; nothing here decides a rule.

mod backup;
mod bench_detect;
mod bench_geofence;
mod bench_ingest;
mod bench_ingest_pg;
mod bench_scale;
mod consistency;
mod crash_test;
mod detect_eval;
mod events;
mod push_service;
mod sim;
mod traces;

use std::path::PathBuf;
use std::sync::Arc;

use amina_domain::geofence::Geofence;
use amina_domain::time::moscow_date;
use amina_server::addresses::{parse_addresses, AddressImportError};
use amina_server::cards::{hash_secrets, parse_cards, ImportError};
use amina_server::clock::{Clock, SystemClock};
use amina_server::config::Config;
use amina_server::state::{build_calendar, build_geofence, build_monitor, build_window, AppState};
use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use jiff::civil::Date;
use jiff::Timestamp;

/// The server allocates and frees small buffers for every request (headers,
/// JSON, the answer) on several threads. With the C library's allocator that
/// was a quarter of the process's CPU in a profile of single-fix uploads;
/// mimalloc keeps per-thread free lists and does the same work in less
/// (docs/performance.md#index-lookups-at-every-table-size).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "amina",
    version,
    about = "Migration registration with geolocation presence monitoring"
)]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Common {
    /// Configuration file (TOML); AMINA_* environment variables override it.
    #[arg(long, global = true, env = "AMINA_CONFIG")]
    config: Option<PathBuf>,
    /// Database URL (`sqlite:PATH` or `postgres://…`); overrides the config.
    #[arg(long, global = true)]
    database: Option<String>,
    /// Data directory (the SQLite file lives here); overrides the config.
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (API and scheduler).
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:8080.
        #[arg(long)]
        listen: Option<String>,
        /// Load the demo card records (data/demo/cards.csv) if no cards exist
        /// yet, and the demo address register (data/demo/addresses.csv).
        #[arg(long)]
        demo: bool,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Import records from external registries.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Check the working-day rules by hand.
    #[command(subcommand)]
    Calendar(CalendarCommand),
    /// Check the region geofence by hand.
    #[command(subcommand)]
    Geo(GeoCommand),
    /// Operator actions.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// The console's audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Retention of raw locations: reduce old fixes to daily summaries, or
    /// check that it was done.
    #[command(subcommand)]
    Retention(RetentionCommand),
    /// Run the deregistration scheduler once, now, and exit.
    DeregisterDue,
    /// Benchmarks that print medians and ratios against a baseline.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Detect stay points in a trace CSV (docs/detection.md); CSV to stdout.
    Stays(StaysArgs),
    /// Detection signals: evaluation on real traces (docs/detection.md).
    #[command(subcommand)]
    Detect(DetectCommand),
    /// Play simulated phones against a running server (load tests, demos).
    #[command(subcommand)]
    Sim(sim::SimCommand),
    /// Run the server with the demo data and a few simulated phones, so
    /// that the console has people who move, report, travel and go silent.
    Demo {
        /// Address to listen on.
        #[arg(long)]
        listen: Option<String>,
        /// Simulated phones.
        #[arg(long, default_value_t = 60)]
        phones: usize,
        /// Seconds between two fixes of one phone.
        #[arg(long, default_value_t = 30.0)]
        interval: f64,
    },
    /// Events from the federal migration system: list, show, replay; sender keys.
    #[command(subcommand)]
    Events(events::EventsCommand),
    /// Kill the server with SIGKILL at random moments under simulated load,
    /// restart it, and check the database after each kill
    /// (docs/reliability.md). The database must be empty.
    CrashTest(crash_test::CrashTestArgs),
    /// Check the database's invariants: acknowledged fixes stored once,
    /// state consistent with fixes, feed gapless, audit chain intact.
    CheckConsistency {
        /// The simulator's `--ack-log`: each fix in it must be stored.
        #[arg(long)]
        ack_log: Option<PathBuf>,
        /// Print the findings as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write a consistent backup of the database to a new file (SQLite:
    /// VACUUM INTO; PostgreSQL: pg_dump --format=custom).
    Backup {
        /// The backup file; must not exist.
        #[arg(long)]
        to: PathBuf,
        /// Directory of pg_dump (PostgreSQL only); default: PATH.
        #[arg(long, env = "AMINA_PG_BIN")]
        pg_bin: Option<PathBuf>,
    },
    /// Restore a backup into a new database (SQLite: a file that does not
    /// exist yet; PostgreSQL: an existing, empty database).
    Restore {
        /// The backup file written by `amina backup`.
        #[arg(long)]
        from: PathBuf,
        /// Directory of pg_restore (PostgreSQL only); default: PATH.
        #[arg(long, env = "AMINA_PG_BIN")]
        pg_bin: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum DetectCommand {
    /// Inject synthetic evasions into copies of real traces and report recall,
    /// false-positive rate and precision per signal.
    Evaluate(detect_eval::EvaluateArgs),
}

#[derive(Args)]
struct StaysArgs {
    /// Trace CSV (columns user_id, tracked_at, latitude, longitude; `.gz` is gunzipped).
    file: PathBuf,
    /// Distance threshold, metres.
    #[arg(long, default_value_t = 100.0)]
    dist_m: f64,
    /// Time threshold, minutes.
    #[arg(long, default_value_t = 5.0)]
    time_min: f64,
    /// Gap threshold, minutes (`inf`: never split on gaps).
    #[arg(long, default_value_t = 15.0)]
    gap_min: f64,
    /// Also keep each person's trailing stay that has no exit fix.
    #[arg(long)]
    include_last: bool,
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Import foreign citizen card records (CSV; columns in docs/import.md).
    Cards {
        file: PathBuf,
        /// Check the file and report, without importing.
        #[arg(long)]
        dry_run: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Import the address register (CSV modelled on GAR; columns in docs/import.md).
    Addresses {
        file: PathBuf,
        /// Check the file and report, without importing.
        #[arg(long)]
        dry_run: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum CalendarCommand {
    /// The monitoring deadline implied by a last fix at INSTANT (RFC 3339).
    Deadline {
        instant: String,
        #[arg(long)]
        json: bool,
    },
    /// Working days from FROM to TO, both included (YYYY-MM-DD).
    WorkingDays {
        from: String,
        to: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum GeoCommand {
    /// Classify a point: moscow, moscow_oblast, outside or uncertain.
    Classify {
        #[arg(allow_negative_numbers = true)]
        lat: f64,
        #[arg(allow_negative_numbers = true)]
        lon: f64,
        /// Accuracy radius in metres.
        #[arg(long, default_value_t = 10.0)]
        accuracy: f64,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Unlock a card locked after too many wrong activation secrets.
    UnlockCard {
        card_number: String,
        /// Who is unlocking (recorded in the person's history).
        #[arg(long, default_value = "operator-cli")]
        actor: String,
    },
    /// Issue a one-time enrolment code for a card you have checked in
    /// person; prints the code and the app link, and draws the QR code.
    EnrolmentCode {
        card_number: String,
        /// Who issues it (recorded with the code and in the person's history).
        #[arg(long, default_value = "operator-cli")]
        actor: String,
        /// Write the QR code as SVG to this file instead of drawing it in the terminal.
        #[arg(long)]
        svg: Option<PathBuf>,
        /// The app's public address for the link (default: enrolment.app_url).
        #[arg(long)]
        app_url: Option<String>,
        /// Print code, link and expiry as JSON (no terminal drawing).
        #[arg(long)]
        json: bool,
    },
    /// Create a console account; prints its TOTP secret and otpauth URI
    /// once (and the password, when generated).
    CreateUser {
        /// enrolment-operator, migration-officer, police-officer,
        /// supervisor, auditor or admin.
        #[arg(long)]
        role: String,
        name: String,
        /// Read the password from the first line of standard input instead
        /// of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Walk the hash chain of the audit trail; names the first bad record
    /// and exits non-zero if the chain is broken.
    Verify {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum RetentionCommand {
    /// Reduce raw fixes older than retention.fix_days to daily presence
    /// summaries now (what the scheduler does once a day).
    Run {
        #[arg(long)]
        json: bool,
    },
    /// Check that no raw fix older than the cut-off remains and that every
    /// removed fix is in a daily summary; exits non-zero if not.
    Verify {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Geofence classification per point on the real polygons vs the exact reference.
    Geofence {
        #[arg(long, default_value_t = 200_000)]
        points: usize,
        #[arg(long, default_value_t = 7)]
        rounds: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Write the generated points (CSV: lat,lon,accuracy_m,near_boundary)
        /// to this file instead of running the benchmark.
        #[arg(long, conflicts_with = "classify")]
        export_points: Option<PathBuf>,
        /// Classify the points of this CSV file (as written by
        /// --export-points), time it over --rounds and print one JSON line.
        #[arg(long)]
        classify: Option<PathBuf>,
        /// With --classify: write each point's zone (one slug per line).
        #[arg(long, requires = "classify")]
        answers: Option<PathBuf>,
    },
    /// Durable fix ingestion over HTTP on SQLite vs one transaction per fix.
    Ingest(bench_ingest::IngestArgs),
    /// The daily detection job over simulated people (docs/detection.md).
    DetectDaily(bench_detect::DetectDailyArgs),
    /// The scheduler's deregistration pass at 3 million people: cost vs due
    /// count and vs population (docs/performance.md).
    Deadlines(bench_scale::DeadlinesArgs),
    /// The console's nearby query over 3 million last positions.
    Nearby(bench_scale::NearbyArgs),
    /// Resident memory of `amina serve` at 3 million enrolled people.
    Memory(bench_scale::MemoryArgs),
    /// Stay-point detection on a trace file, parsing excluded (the
    /// trackintel comparison script runs it for the ratio).
    Stays {
        file: PathBuf,
        #[arg(long, default_value_t = 21)]
        rounds: usize,
    },
}

fn load_config(common: &Common) -> anyhow::Result<Config> {
    let mut config = Config::load(common.config.as_deref())?;
    if let Some(d) = &common.database {
        config.database = d.clone();
    }
    if let Some(d) = &common.data_dir {
        config.data_dir = d.clone();
    }
    Ok(config)
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        // A reader that stopped reading (`amina stays … | head`) is not an error.
        Err(e) if is_broken_pipe(&e) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// A random initial password: 24 characters from 18 random bytes.
fn generated_password() -> String {
    use base64::Engine as _;
    let mut raw = [0u8; 18];
    rand::fill(&mut raw);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { listen, demo } => {
            amina_server::telemetry::init_logging();
            let mut config = load_config(&cli.common)?;
            if let Some(l) = listen {
                config.listen = l;
            }
            let exposed = amina_server::file_modes::exposed_secret_files(
                &config,
                cli.common.config.as_deref(),
            );
            if !exposed.is_empty() {
                for e in &exposed {
                    tracing::error!(file = %e.path.display(), "secret file exposed: {e}");
                }
                let list: Vec<String> = exposed.iter().map(|e| e.to_string()).collect();
                bail!(
                    "refusing to start: files holding secrets can be read by others:\n  {}",
                    list.join("\n  ")
                );
            }
            serve(config, demo).await
        }
        Command::Migrate => {
            let config = load_config(&cli.common)?;
            let store = amina_store::open(&config.database_url()).await?;
            let applied = store.migrate().await?;
            if applied.is_empty() {
                println!("schema is up to date");
            } else {
                println!("applied: {}", applied.join(", "));
            }
            Ok(())
        }
        Command::Import(ImportCommand::Cards {
            file,
            dry_run,
            json,
        }) => import_cards(&load_config(&cli.common)?, &file, dry_run, json).await,
        Command::Import(ImportCommand::Addresses {
            file,
            dry_run,
            json,
        }) => import_addresses(&load_config(&cli.common)?, &file, dry_run, json).await,
        Command::Calendar(c) => calendar(&load_config(&cli.common)?, c),
        Command::Geo(GeoCommand::Classify {
            lat,
            lon,
            accuracy,
            json,
        }) => geo_classify(&load_config(&cli.common)?, lat, lon, accuracy, json),
        Command::Admin(AdminCommand::UnlockCard { card_number, actor }) => {
            let config = load_config(&cli.common)?;
            let number = amina_domain::types::CardNumber::parse(&card_number)?;
            let store = amina_store::open(&config.database_url()).await?;
            store.migrate().await?;
            if store.unlock_card(&number, &actor, Timestamp::now()).await? {
                println!("card {number} unlocked");
            } else {
                println!("card {number} was not locked (or is unknown)");
            }
            Ok(())
        }
        Command::Admin(AdminCommand::CreateUser {
            role,
            name,
            password_stdin,
        }) => {
            let role = amina_domain::console::Role::parse(&role).with_context(|| {
                format!(
                    "unknown role {role:?}; one of: enrolment-operator, migration-officer, \
                     police-officer, supervisor, auditor, admin"
                )
            })?;
            let password = if password_stdin {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                line.trim_end_matches(['\r', '\n']).to_string()
            } else {
                generated_password()
            };
            let config = load_config(&cli.common)?;
            let store = amina_store::open(&config.database_url()).await?;
            store.migrate().await?;
            let monitor = build_monitor(&config)?;
            let state = AppState::new(store, monitor, config, Arc::new(SystemClock));
            let created = amina_server::console::auth::create_account(
                &state,
                &name,
                role,
                &password,
                "cli:admin",
            )
            .await
            .map_err(|e| anyhow::anyhow!(e))?;
            println!("account:     {} ({})", created.name, created.role.code());
            if !password_stdin {
                println!("password:    {password}");
            }
            println!("totp secret: {}", created.totp_secret);
            println!("otpauth uri: {}", created.otpauth_uri);
            println!("These are shown once; add the secret to an authenticator app now.");
            Ok(())
        }
        Command::Audit(AuditCommand::Verify { json }) => {
            let config = load_config(&cli.common)?;
            let store = amina_store::open(&config.database_url()).await?;
            store.migrate().await?;
            match amina_store::audit::verify_store(&*store).await? {
                Ok(n) => {
                    if json {
                        println!("{}", serde_json::json!({"ok": true, "records": n}));
                    } else {
                        println!("audit chain intact: {n} record(s)");
                    }
                    Ok(())
                }
                Err(b) => {
                    if json {
                        println!(
                            "{}",
                            serde_json::json!({"ok": false, "first_bad_record": b.id, "problem": b.problem})
                        );
                    }
                    bail!("audit chain broken at record {}: {}", b.id, b.problem)
                }
            }
        }
        Command::Retention(cmd) => {
            let config = load_config(&cli.common)?;
            let store = amina_store::open(&config.database_url()).await?;
            store.migrate().await?;
            let monitor = build_monitor(&config)?;
            let state = AppState::new(store, monitor, config, Arc::new(SystemClock));
            match cmd {
                RetentionCommand::Run { json } => {
                    let r = amina_server::retention::run_once(&state).await?;
                    if json {
                        println!("{}", serde_json::to_string(&r)?);
                    } else {
                        println!(
                            "retention: {} fix(es) of {} person(s) reduced to {} daily summary(ies); cut-off {}",
                            r.fixes_removed,
                            r.persons,
                            r.days,
                            r.cutoff.map(amina_domain::time::format_moscow).unwrap_or_default()
                        );
                        if r.partitions_dropped > 0 {
                            println!(
                                "retention: {} whole day partition(s) dropped",
                                r.partitions_dropped
                            );
                        }
                    }
                    Ok(())
                }
                RetentionCommand::Verify { json } => {
                    let s = amina_server::retention::status(&state).await?;
                    if json {
                        let mut v = serde_json::to_value(&s)?;
                        v["ok"] = s.is_ok().into();
                        println!("{v}");
                    } else {
                        println!(
                            "cut-off {}: {} raw fix(es) older; {} daily summary(ies) account for {} fix(es); {} removed in {} run(s)",
                            amina_domain::time::format_moscow(s.cutoff),
                            s.raw_before_cutoff,
                            s.summary_days,
                            s.summarised_fixes,
                            s.removed_fixes,
                            s.runs
                        );
                    }
                    if s.raw_before_cutoff > 0 {
                        bail!(
                            "{} raw fix(es) older than the cut-off remain (oldest {})",
                            s.raw_before_cutoff,
                            s.oldest_raw
                                .map(amina_domain::time::format_moscow)
                                .unwrap_or_default()
                        );
                    }
                    if s.summarised_fixes != s.removed_fixes {
                        bail!(
                            "the summaries account for {} fix(es) but {} were removed",
                            s.summarised_fixes,
                            s.removed_fixes
                        );
                    }
                    Ok(())
                }
            }
        }
        Command::Admin(AdminCommand::EnrolmentCode {
            card_number,
            actor,
            svg,
            app_url,
            json,
        }) => {
            let mut config = load_config(&cli.common)?;
            if let Some(url) = app_url {
                config.enrolment.app_url = url;
            }
            enrolment_code(&config, &card_number, &actor, svg.as_deref(), json).await
        }
        Command::DeregisterDue => {
            let config = load_config(&cli.common)?;
            let state = build_state(config).await?;
            let done = amina_server::scheduler::run_once(&state)
                .await
                .map_err(|e| anyhow::anyhow!("{}: {}", e.code, e.message))?;
            println!("deregistered {} person(s)", done.len());
            Ok(())
        }
        Command::Bench(BenchCommand::Geofence {
            points,
            rounds,
            seed,
            export_points,
            classify,
            answers,
        }) => {
            if let Some(path) = export_points {
                let n = bench_geofence::export_points(points, seed, &path)?;
                println!("wrote {n} points (seed {seed}) to {}", path.display());
            } else if let Some(input) = classify {
                let report = bench_geofence::classify_file(&input, answers.as_deref(), rounds)?;
                println!("{report}");
            } else {
                print!("{}", bench_geofence::run(points, rounds, seed));
            }
            Ok(())
        }
        Command::Bench(BenchCommand::Ingest(args)) => bench_ingest::run(args).await,
        Command::Bench(BenchCommand::Deadlines(args)) => bench_scale::deadlines(args).await,
        Command::Bench(BenchCommand::Nearby(args)) => bench_scale::nearby(args).await,
        Command::Bench(BenchCommand::Memory(args)) => bench_scale::memory(args).await,
        Command::Sim(command) => sim::run(command).await,
        Command::Demo {
            listen,
            phones,
            interval,
        } => {
            amina_server::telemetry::init_logging();
            let mut config = load_config(&cli.common)?;
            if let Some(l) = listen {
                config.listen = l;
            }
            demo(config, phones, interval).await
        }
        Command::Bench(BenchCommand::Stays { file, rounds }) => bench_stays(&file, rounds),
        Command::Bench(BenchCommand::DetectDaily(args)) => {
            print!("{}", bench_detect::run(&args)?);
            Ok(())
        }
        Command::Stays(args) => stays(&args),
        Command::Detect(DetectCommand::Evaluate(args)) => {
            print!("{}", detect_eval::run(&args)?);
            Ok(())
        }
        Command::CrashTest(args) => {
            let config = load_config(&cli.common)?;
            let report = crash_test::run(&config.database_url(), &args).await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.to_text());
            }
            if report.failed_checks > 0 {
                bail!(
                    "{} of {} checks failed",
                    report.failed_checks,
                    report.checks
                );
            }
            Ok(())
        }
        Command::CheckConsistency { ack_log, json } => {
            let config = load_config(&cli.common)?;
            let acks = ack_log
                .as_deref()
                .map(consistency::read_ack_log)
                .transpose()?;
            let findings = consistency::check(&config.database_url(), acks.as_ref()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&findings)?);
            } else {
                print!("{}", findings.to_text());
            }
            if !findings.ok() {
                bail!("the database breaks its invariants");
            }
            Ok(())
        }
        Command::Backup { to, pg_bin } => {
            let config = load_config(&cli.common)?;
            backup::backup(&config.database_url(), &to, pg_bin.as_deref())?;
            println!("backup written to {}", to.display());
            Ok(())
        }
        Command::Restore { from, pg_bin } => {
            let config = load_config(&cli.common)?;
            backup::restore(&config.database_url(), &from, pg_bin.as_deref()).await?;
            println!(
                "restored {}; check it with `amina audit verify`",
                from.display()
            );
            Ok(())
        }
        Command::Events(cmd) => {
            let config = load_config(&cli.common)?;
            let store = amina_store::open(&config.database_url()).await?;
            store.migrate().await?;
            events::run(&config, store, cmd).await
        }
    }
}

/// `amina stays`: read a trace CSV, detect stays per user, print CSV.
/// Rows whose latitude or longitude is empty or NaN/inf are skipped (and
/// counted on stderr); any other bad row refuses the whole file with its
/// line number.
fn stays(args: &StaysArgs) -> anyhow::Result<()> {
    use amina_domain::staypoints::{detect_user, Params};
    use std::io::Write;

    let mut params = Params::from_units(args.dist_m, args.time_min, Some(args.gap_min))?;
    params.include_last = args.include_last;
    let users = traces::read(&args.file)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    writeln!(
        out,
        "user_id,started_at,finished_at,latitude,longitude,n_fixes"
    )?;
    for (user, fixes) in &users {
        for s in detect_user(user, fixes, &params) {
            writeln!(
                out,
                "{},{},{},{},{},{}",
                csv_field(&s.user_id),
                s.started_at,
                s.finished_at,
                s.lat,
                s.lon,
                s.n_fixes
            )?;
        }
    }
    out.flush()?;
    Ok(())
}

/// Time stay-point detection alone over every user of a trace file.
fn bench_stays(file: &std::path::Path, rounds: usize) -> anyhow::Result<()> {
    use amina_domain::staypoints::{detect_user, Params};
    let users = traces::read(file)?;
    let fixes: usize = users.iter().map(|(_, f)| f.len()).sum();
    let params = Params::default();
    let mut times = Vec::with_capacity(rounds.max(1));
    let mut stays = 0;
    for _ in 0..rounds.max(1) {
        let started = std::time::Instant::now();
        stays = users
            .iter()
            .map(|(u, f)| std::hint::black_box(detect_user(u, f, &params)).len())
            .sum::<usize>();
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "stays: {} users, {fixes} fixes, {stays} stays; detection median_ms={:.3} min_ms={:.3} \
         max_ms={:.3} over {} rounds ({:.1} ns/fix)",
        users.len(),
        times[times.len() / 2],
        times[0],
        times[times.len() - 1],
        times.len(),
        times[times.len() / 2] * 1e6 / fixes.max(1) as f64
    );
    Ok(())
}

/// A CSV field, quoted when it needs to be.
fn csv_field(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\"")).into()
    } else {
        s.into()
    }
}

async fn build_state(config: Config) -> anyhow::Result<AppState> {
    let monitor = build_monitor(&config)?;
    let store = amina_store::open(&config.database_url())
        .await
        .with_context(|| format!("opening {}", config.database_url()))?;
    store.migrate().await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    Ok(AppState::new(store, monitor, config, clock))
}

async fn serve(config: Config, demo: bool) -> anyhow::Result<()> {
    let listen = config.listen.clone();
    let state = build_state(config).await?;
    if demo {
        load_demo(&state).await?;
    }
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    tracing::info!(address = %listener.local_addr()?, backend = ?state.store.backend(), "amina serving");
    println!("amina listening on http://{}", listener.local_addr()?);
    amina_server::serve(listener, state, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}

/// `amina demo`: `serve --demo` plus simulated phones playing against it
/// until Ctrl-C, so that the console shows people who move and report.
async fn demo(config: Config, phones: usize, interval: f64) -> anyhow::Result<()> {
    let listen = config.listen.clone();
    let state = build_state(config).await?;
    load_demo(&state).await?;
    let hash = amina_server::cards::hash_secret(sim::SIM_SECRET);
    let cards = (0..phones)
        .map(|i| {
            Ok(amina_domain::eligibility::CardRecord {
                number: amina_domain::types::CardNumber::parse(&sim::model::card_number(i))?,
                secret_hash: hash.clone(),
                name_latin: format!("Sim Person {i}"),
                name_cyrillic: format!("Сим Персона {i}"),
                citizenship: amina_domain::types::Citizenship::parse("UZB")?,
                birth_date: jiff::civil::date(1990, 1, 1),
                purpose: amina_domain::eligibility::Purpose::Work,
                valid_until: jiff::civil::date(2030, 12, 31),
            })
        })
        .collect::<Result<Vec<_>, amina_domain::types::InputError>>()?;
    state.store.import_cards(cards, state.clock.now()).await?;
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let url = format!("http://{}", listener.local_addr()?);
    println!("amina listening on {url}");
    println!("demo: {phones} simulated phones (cards SIM000000000 …) report every {interval} s");
    let args = sim::RunArgs::demo(url, phones, interval);
    tokio::spawn(async move {
        match sim::play(&args).await {
            Ok(report) => print!("{}", report.to_text()),
            Err(e) => eprintln!("demo simulation stopped: {e:#}"),
        }
    });
    amina_server::serve(listener, state, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}

const DEMO_CARDS: &str = include_str!("../data/demo/cards.csv");
const DEMO_ADDRESSES: &str = include_str!("../data/demo/addresses.csv");

async fn load_demo(state: &AppState) -> anyhow::Result<()> {
    // The register is upserted every time: idempotent, and a changed demo
    // file takes effect on the next start.
    let parsed = parse_addresses(DEMO_ADDRESSES.as_bytes(), &state.monitor.geofence)
        .map_err(|e| anyhow::anyhow!("demo addresses: {e}"))?;
    let counts = state
        .store
        .import_addresses(parsed.accepted, state.clock.now())
        .await?;
    println!(
        "demo: {} addresses in the register ({} new; {} demo row(s) refused as the rules require; see data/demo/addresses.csv)",
        counts.inserted + counts.updated,
        counts.inserted,
        parsed.refused.len()
    );
    if state.store.counts().await?.cards > 0 {
        println!("demo: cards already present, nothing loaded");
        return Ok(());
    }
    let now = state.clock.now();
    let mut parsed = parse_cards(
        DEMO_CARDS.as_bytes(),
        &scope(&state.config)?,
        moscow_date(now),
    )
    .map_err(|e| anyhow::anyhow!("demo cards: {e}"))?;
    hash_secrets(&mut parsed.accepted);
    let counts = state.store.import_cards(parsed.accepted, now).await?;
    println!(
        "demo: {} cards loaded (card DEMO000001 … with secret demo-secret-1 …; see data/demo/cards.csv)",
        counts.inserted
    );
    Ok(())
}

fn scope(config: &Config) -> anyhow::Result<amina_domain::eligibility::Scope> {
    Ok(amina_domain::eligibility::Scope {
        citizenships: config
            .scope
            .citizenships
            .iter()
            .map(|c| amina_domain::types::Citizenship::parse(c))
            .collect::<Result<_, _>>()
            .context("scope.citizenships")?,
        adult_age_years: config.scope.adult_age_years,
    })
}

async fn import_cards(
    config: &Config,
    file: &PathBuf,
    dry_run: bool,
    json: bool,
) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let now = amina_server::clock::truncate_ms(Timestamp::now());
    let mut parsed = match parse_cards(&bytes, &scope(config)?, moscow_date(now)) {
        Ok(p) => p,
        Err(ImportError::Malformed(rows)) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({"imported": false, "malformed": rows})
                );
            } else {
                eprintln!(
                    "the file has {} malformed row(s); nothing was imported:",
                    rows.len()
                );
                for r in &rows {
                    eprintln!("  line {}: {}", r.line, r.message);
                }
            }
            bail!("import refused");
        }
        Err(e) => return Err(e.into()),
    };
    let counts = if dry_run {
        None
    } else {
        hash_secrets(&mut parsed.accepted);
        let store = amina_store::open(&config.database_url()).await?;
        store.migrate().await?;
        Some(store.import_cards(parsed.accepted.clone(), now).await?)
    };
    if json {
        println!(
            "{}",
            serde_json::json!({
                "imported": counts.is_some(),
                "rows_read": parsed.rows_read,
                "in_scope": parsed.accepted.len(),
                "inserted": counts.map(|c| c.inserted),
                "updated": counts.map(|c| c.updated),
                "refused": parsed.refused,
            })
        );
    } else {
        println!("rows read: {}", parsed.rows_read);
        println!("in scope:  {}", parsed.accepted.len());
        match counts {
            Some(c) => println!("imported:  {} new, {} updated", c.inserted, c.updated),
            None => println!("dry run:   nothing imported"),
        }
        println!("refused:   {}", parsed.refused.len());
        for r in &parsed.refused {
            println!(
                "  line {} card {}: {} ({})",
                r.line, r.card_number, r.message, r.reason
            );
        }
    }
    Ok(())
}

async fn import_addresses(
    config: &Config,
    file: &PathBuf,
    dry_run: bool,
    json: bool,
) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let fence = build_geofence(config)?;
    let parsed = match parse_addresses(&bytes, &fence) {
        Ok(p) => p,
        Err(AddressImportError::Malformed(rows)) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({"imported": false, "malformed": rows})
                );
            } else {
                eprintln!(
                    "the file has {} malformed row(s); nothing was imported:",
                    rows.len()
                );
                for r in &rows {
                    eprintln!("  line {}: {}", r.line, r.message);
                }
            }
            bail!("import refused");
        }
    };
    let residential = parsed.accepted.iter().filter(|a| a.residential).count();
    let counts = if dry_run {
        None
    } else {
        let store = amina_store::open(&config.database_url()).await?;
        store.migrate().await?;
        let now = amina_server::clock::truncate_ms(Timestamp::now());
        Some(store.import_addresses(parsed.accepted.clone(), now).await?)
    };
    if json {
        println!(
            "{}",
            serde_json::json!({
                "imported": counts.is_some(),
                "rows_read": parsed.rows_read,
                "accepted": parsed.accepted.len(),
                "residential": residential,
                "inserted": counts.map(|c| c.inserted),
                "updated": counts.map(|c| c.updated),
                "refused": parsed.refused,
            })
        );
    } else {
        println!("rows read:   {}", parsed.rows_read);
        println!(
            "accepted:    {} ({} residential)",
            parsed.accepted.len(),
            residential
        );
        match counts {
            Some(c) => println!("imported:    {} new, {} updated", c.inserted, c.updated),
            None => println!("dry run:     nothing imported"),
        }
        println!("refused:     {}", parsed.refused.len());
        for r in &parsed.refused {
            println!(
                "  line {} address {}: {} ({})",
                r.line, r.id, r.message, r.reason
            );
        }
    }
    Ok(())
}

/// `amina admin enrolment-code`: issue a one-time code and show it as text,
/// as a link for the app and as a QR code of that link.
async fn enrolment_code(
    config: &Config,
    card_number: &str,
    actor: &str,
    svg: Option<&std::path::Path>,
    json: bool,
) -> anyhow::Result<()> {
    use qrcode::render::{svg as qr_svg, unicode};
    let number = amina_domain::types::CardNumber::parse(card_number)?;
    let store = amina_store::open(&config.database_url()).await?;
    store.migrate().await?;
    let now = amina_server::clock::truncate_ms(Timestamp::now());
    let ttl = jiff::SignedDuration::from_secs(i64::from(config.enrolment.code_ttl_s));
    let issued = store
        .issue_enrolment_code(&number, actor, ttl, now)
        .await
        .map_err(|e| match e {
            amina_store::StoreError::UnknownCard => anyhow::anyhow!("unknown card {number}"),
            other => other.into(),
        })?;
    let shown = issued.code.display();
    let link = format!("{}#code={shown}", config.app_url());
    let qr = qrcode::QrCode::new(link.as_bytes()).context("encoding the QR code")?;
    if let Some(path) = svg {
        let image = qr
            .render::<qr_svg::Color>()
            .min_dimensions(256, 256)
            .build();
        std::fs::write(path, image).with_context(|| format!("writing {}", path.display()))?;
    }
    let expires = amina_domain::time::format_moscow(issued.expires_at);
    if json {
        println!(
            "{}",
            serde_json::json!({
                "card_number": number.as_str(),
                "code": shown,
                "url": link,
                "expires_at": issued.expires_at.to_string(),
                "expires_moscow": expires,
                "superseded": issued.superseded,
                "svg": svg.map(|p| p.display().to_string()),
            })
        );
        return Ok(());
    }
    println!("card:     {number}");
    println!("code:     {shown}");
    println!("link:     {link}");
    println!("expires:  {expires} (once only)");
    if issued.superseded > 0 {
        println!("replaced: {} earlier unused code(s)", issued.superseded);
    }
    match svg {
        Some(path) => println!("QR code:  {}", path.display()),
        None => {
            // Light modules on a dark terminal read as a normal QR code.
            let drawn = qr
                .render::<unicode::Dense1x2>()
                .dark_color(unicode::Dense1x2::Light)
                .light_color(unicode::Dense1x2::Dark)
                .build();
            println!("{drawn}");
        }
    }
    Ok(())
}

fn calendar(config: &Config, command: CalendarCommand) -> anyhow::Result<()> {
    // Only the calendar and the window: no need to build the geofence.
    let calendar = build_calendar(config)?;
    let window = build_window(config)?;
    match command {
        CalendarCommand::Deadline { instant, json } => {
            let t: Timestamp = instant
                .parse()
                .with_context(|| format!("{instant:?} is not an RFC 3339 instant"))?;
            let deadline = window.deadline(&calendar, t)?;
            let moscow = amina_domain::time::format_moscow(deadline);
            if json {
                println!(
                    "{}",
                    serde_json::json!({
                        "last_monitoring": t.to_string(),
                        "last_monitoring_moscow_date": moscow_date(t).to_string(),
                        "window": window.describe(),
                        "deadline": moscow,
                        "deadline_utc": deadline.to_string(),
                    })
                );
            } else {
                println!("{moscow}");
            }
        }
        CalendarCommand::WorkingDays { from, to, json } => {
            let parse = |s: &str| -> anyhow::Result<Date> {
                s.parse()
                    .with_context(|| format!("{s:?} is not a YYYY-MM-DD date"))
            };
            let (f, t) = (parse(&from)?, parse(&to)?);
            let n = calendar.working_days_between(f, t)?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"from": from, "to": to, "working_days": n})
                );
            } else {
                println!("{n}");
            }
        }
    }
    Ok(())
}

fn geo_classify(
    config: &Config,
    lat: f64,
    lon: f64,
    accuracy: f64,
    json: bool,
) -> anyhow::Result<()> {
    let position = amina_domain::types::Coordinates::parse(lat, lon)?;
    let accuracy = amina_domain::types::AccuracyM::parse(accuracy)?;
    let fence: Geofence = build_geofence(config)?;
    let zone = fence.classify(position.lat(), position.lon(), accuracy.get());
    let slug = fence.slug(zone);
    if json {
        println!(
            "{}",
            serde_json::json!({
                "lat": lat, "lon": lon, "accuracy_m": accuracy.get(), "zone": slug,
                "distance_to_boundary_m": (fence.distance_to_outer_boundary_m(lat, lon) * 10.0).round() / 10.0,
            })
        );
    } else {
        println!("{slug}");
    }
    Ok(())
}
