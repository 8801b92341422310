//! `amina events`: migration officers inspect and replay the federal
//! migration system's inbound events, and see refused deliveries.
//!
//! Every use is recorded in the audit trail (actor `cli:<--actor>`, role
//! `migration_officer`): listing and showing read personal data (card
//! numbers), replaying may change a registration.

use amina_store::{AuditEntry, EventQuery, EventRecord, SharedStore};
use anyhow::bail;
use clap::Subcommand;
use jiff::Timestamp;

use amina_server::config::Config;

#[derive(Subcommand)]
pub enum EventsCommand {
    /// List inbound events, newest first (or refused deliveries with --rejected).
    List {
        /// Only events with this status: applied, no_change or unknown_person.
        #[arg(long)]
        status: Option<String>,
        /// Only events for nobody known here (same as --status unknown_person).
        #[arg(long)]
        unknown: bool,
        /// Only this sender's.
        #[arg(long)]
        sender: Option<String>,
        /// Show refused deliveries instead of stored events.
        #[arg(long)]
        rejected: bool,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Who is looking (recorded in the audit trail).
        #[arg(long, default_value = "officer")]
        actor: String,
        #[arg(long)]
        json: bool,
    },
    /// Show one stored event with its outcome.
    Show {
        id: i64,
        #[arg(long, default_value = "officer")]
        actor: String,
        #[arg(long)]
        json: bool,
    },
    /// Decide a stored event again on today's data (e.g. after the card of
    /// an unknown person was imported and enrolled). Applied events are
    /// never applied twice.
    Replay {
        id: i64,
        #[arg(long, default_value = "officer")]
        actor: String,
        #[arg(long)]
        json: bool,
    },
    /// Make a random shared key for a sender and print the configuration
    /// line (the key is shown once; give it to the sender out of band).
    NewKey { sender: String },
}

const STATUSES: [&str; 3] = ["applied", "no_change", "unknown_person"];

async fn audit(
    store: &SharedStore,
    actor: &str,
    action: &str,
    subject: String,
    detail: serde_json::Value,
) -> anyhow::Result<()> {
    store
        .append_audit(
            AuditEntry::new(
                Timestamp::now(),
                format!("cli:{actor}"),
                "migration_officer",
                action,
                subject,
            )
            .detail(detail),
        )
        .await?;
    Ok(())
}

fn line(r: &EventRecord) -> String {
    format!(
        "{:>6}  {}  {:<10} {:<28} {:<21} {:<12} {:<15} {}",
        r.id,
        r.received_at.strftime("%Y-%m-%dT%H:%MZ"),
        r.sender,
        r.event.event_id.as_str(),
        r.event.body.kind().code(),
        r.event.card_number,
        r.status,
        r.outcome.code()
    )
}

pub async fn run(config: &Config, store: SharedStore, cmd: EventsCommand) -> anyhow::Result<()> {
    let pilot: Vec<String> = config
        .regions
        .pilot
        .iter()
        .map(|r| r.code.clone())
        .collect();
    match cmd {
        EventsCommand::List {
            status,
            unknown,
            sender,
            rejected,
            limit,
            actor,
            json,
        } => {
            if rejected {
                let list = store.rejections(sender.clone(), limit).await?;
                audit(
                    &store,
                    &actor,
                    "integration.rejections",
                    "integration".into(),
                    serde_json::json!({"count": list.len()}),
                )
                .await?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&list)?);
                } else {
                    for r in &list {
                        let x = &r.rejection;
                        println!(
                            "{:>6}  {}  {:<10} {:<28} {:<22} {}",
                            r.id,
                            x.received_at.strftime("%Y-%m-%dT%H:%MZ"),
                            x.sender,
                            x.event_id.as_deref().unwrap_or("-"),
                            x.error,
                            x.message
                        );
                    }
                    println!("{} refused deliveries", list.len());
                }
                return Ok(());
            }
            let status = if unknown {
                Some("unknown_person".to_string())
            } else {
                status
            };
            if let Some(s) = &status {
                if !STATUSES.contains(&s.as_str()) {
                    bail!("--status must be one of {}", STATUSES.join(", "));
                }
            }
            let list = store
                .integration_events(EventQuery {
                    status,
                    sender,
                    person_id: None,
                    limit,
                })
                .await?;
            audit(
                &store,
                &actor,
                "integration.events",
                "integration".into(),
                serde_json::json!({"count": list.len()}),
            )
            .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for r in &list {
                    println!("{}", line(r));
                }
                println!("{} event(s)", list.len());
            }
            Ok(())
        }
        EventsCommand::Show { id, actor, json } => {
            let Some(r) = store.integration_event(id).await? else {
                bail!("no integration event {id}");
            };
            audit(
                &store,
                &actor,
                "integration.event",
                format!("integration_event:{id}"),
                serde_json::json!({"person_id": r.person_id}),
            )
            .await?;
            print_one(&r, json)
        }
        EventsCommand::Replay { id, actor, json } => {
            let before = store.integration_event(id).await?;
            let Some(before) = before else {
                bail!("no integration event {id}");
            };
            let monitor = amina_server::state::build_monitor(config)?;
            let after = store
                .replay_event(&monitor, id, pilot, Timestamp::now())
                .await?;
            audit(
                &store,
                &actor,
                "integration.replay",
                format!("integration_event:{id}"),
                serde_json::json!({"before": before.outcome.code(), "after": after.outcome.code(),
                                   "person_id": after.person_id}),
            )
            .await?;
            if !json {
                if before.outcome.applied() {
                    println!("already applied; nothing changed");
                } else if before.outcome == after.outcome {
                    println!("replayed; the outcome is unchanged");
                } else {
                    println!(
                        "replayed: {} -> {}",
                        before.outcome.code(),
                        after.outcome.code()
                    );
                }
            }
            print_one(&after, json)
        }
        EventsCommand::NewKey { sender } => {
            use base64::Engine as _;
            let ok = !sender.is_empty()
                && sender
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !ok {
                bail!("a sender id is lower-case letters, digits and _");
            }
            let mut raw = [0u8; 32];
            rand::fill(&mut raw);
            let key = base64::engine::general_purpose::STANDARD.encode(raw);
            println!(
                "# amina.toml (or AMINA_INTEGRATION__SENDERS__{}=…)",
                sender.to_uppercase()
            );
            println!("[integration.senders]");
            println!("{sender} = \"{key}\"");
            Ok(())
        }
    }
}

fn print_one(r: &EventRecord, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(r)?);
        return Ok(());
    }
    println!("id:          {}", r.id);
    println!("sender:      {}", r.sender);
    println!("event id:    {}", r.event.event_id.as_str());
    println!("type:        {}", r.event.body.kind().code());
    println!("card:        {}", r.event.card_number);
    println!(
        "occurred:    {}",
        amina_domain::time::format_moscow(r.event.occurred_at)
    );
    println!(
        "received:    {}",
        amina_domain::time::format_moscow(r.received_at)
    );
    println!("details:     {}", serde_json::to_string(&r.event.body)?);
    println!(
        "person:      {}",
        r.person_id
            .map(|p| p.to_string())
            .unwrap_or_else(|| "unknown".into())
    );
    println!("status:      {}", r.status);
    println!(
        "outcome:     {} — {}",
        r.outcome.code(),
        r.outcome.explanation()
    );
    println!(
        "decided:     {}",
        amina_domain::time::format_moscow(r.decided_at)
    );
    println!("replays:     {}", r.replays);
    Ok(())
}
