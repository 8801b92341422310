//! [`ConsoleStore`] on PostgreSQL. Each write is one transaction that also
//! appends its audit record (see [`super::audit::append`]); rows that a
//! decision depends on (an account's failures, a case, a registry entry)
//! are locked with `FOR UPDATE` first, so two officers acting at once are
//! applied one after the other.

use amina_domain::console::{CaseTerms, RegistryDecision, RegistryStatus};
use amina_domain::monitor::{DeregistrationReason, Presence, RegistrationStatus};
use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use jiff::{SignedDuration, Timestamp};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::audit::append;
use super::{
    add_event, db_error, execute, flags_from_bits, get, opt_ts, query, query_one, query_opt, ts,
    PgDate, PostgresStore, NEARBY_ANCHOR_SLACK_M,
};
use crate::console::{
    check_case_use, decided_status, parse_registry_status, parse_role, proposal_evidence,
};
use crate::time::to_system;
use crate::*;

pub(super) const ACCOUNT_COLUMNS: &str =
    "id, name, role, password_hash, totp_secret, totp_last_step, \
     failed_attempts, locked_until, created_at, disabled_at";

pub(super) fn account_from_row(r: &Row) -> Result<AccountRecord, StoreError> {
    Ok(AccountRecord {
        id: get(r, 0)?,
        name: get(r, 1)?,
        role: parse_role(get(r, 2)?)?,
        password_hash: get(r, 3)?,
        totp_secret: get(r, 4)?,
        totp_last_step: get(r, 5)?,
        failed_attempts: u32::try_from(get::<i32>(r, 6)?).unwrap_or(0),
        locked_until: opt_ts(r, 7)?,
        created_at: ts(r, 8)?,
        disabled: opt_ts(r, 9)?.is_some(),
    })
}

pub(super) async fn load_account<C: GenericClient>(
    c: &C,
    id: i64,
    lock: bool,
) -> Result<AccountRecord, StoreError> {
    let sql = format!(
        "SELECT {ACCOUNT_COLUMNS} FROM console_accounts WHERE id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    let row = query_opt(c, &sql, &[&id])
        .await?
        .ok_or(StoreError::Console(ConsoleError::UnknownAccount))?;
    account_from_row(&row)
}

const CASE_COLUMNS: &str = "id, person_id, opened_by, opened_at, legal_basis, purpose, \
     expires_at, closed_at, closed_by";

fn case_from_row(r: &Row) -> Result<CaseRecord, StoreError> {
    Ok(CaseRecord {
        id: get(r, 0)?,
        person_id: get(r, 1)?,
        opened_by: get(r, 2)?,
        opened_at: ts(r, 3)?,
        legal_basis: get(r, 4)?,
        purpose: get(r, 5)?,
        expires_at: ts(r, 6)?,
        closed_at: opt_ts(r, 7)?,
        closed_by: get(r, 8)?,
    })
}

async fn load_case<C: GenericClient>(
    c: &C,
    id: i64,
    lock: bool,
) -> Result<Option<CaseRecord>, StoreError> {
    let sql = format!(
        "SELECT {CASE_COLUMNS} FROM cases WHERE id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    query_opt(c, &sql, &[&id])
        .await?
        .map(|r| case_from_row(&r))
        .transpose()
}

const REGISTRY_COLUMNS: &str = "r.id, r.person_id, c.number, c.name_latin, c.name_cyrillic, \
     c.citizenship, r.deregistration_id, r.proposed_at, r.evidence, r.status, r.decided_by, \
     r.decided_at, r.decision_reason, r.removed_by, r.removed_at, r.removal_reason";
const REGISTRY_FROM: &str = "registry_entries r JOIN persons p ON p.id = r.person_id \
     JOIN cards c ON c.number = p.card_number";

fn registry_from_row(r: &Row) -> Result<RegistryEntry, StoreError> {
    Ok(RegistryEntry {
        id: get(r, 0)?,
        person_id: get(r, 1)?,
        card_number: get(r, 2)?,
        name_latin: get(r, 3)?,
        name_cyrillic: get(r, 4)?,
        citizenship: get(r, 5)?,
        deregistration_id: get(r, 6)?,
        proposed_at: ts(r, 7)?,
        evidence: get(r, 8)?,
        status: parse_registry_status(get(r, 9)?)?,
        decided_by: get(r, 10)?,
        decided_at: opt_ts(r, 11)?,
        decision_reason: get(r, 12)?,
        removed_by: get(r, 13)?,
        removed_at: opt_ts(r, 14)?,
        removal_reason: get(r, 15)?,
    })
}

async fn load_registry<C: GenericClient>(
    c: &C,
    id: i64,
    lock: bool,
) -> Result<Option<RegistryEntry>, StoreError> {
    let sql = format!(
        "SELECT {REGISTRY_COLUMNS} FROM {REGISTRY_FROM} WHERE r.id = $1{}",
        if lock { " FOR UPDATE OF r" } else { "" }
    );
    query_opt(c, &sql, &[&id])
        .await?
        .map(|r| registry_from_row(&r))
        .transpose()
}

/// See the SQLite backend: index the cards changed since the newest
/// indexed change.
async fn refresh_name_index<C: GenericClient>(c: &C) -> Result<(), StoreError> {
    let rows = query(
        c,
        "SELECT number, name_latin, name_cyrillic, updated_at FROM cards WHERE updated_at >= \
         COALESCE((SELECT MAX(card_updated_at) FROM person_name_keys), '-infinity')",
        &[],
    )
    .await?;
    for r in rows {
        let number: String = get(&r, 0)?;
        let latin: String = get(&r, 1)?;
        let cyrillic: String = get(&r, 2)?;
        let updated: std::time::SystemTime = get(&r, 3)?;
        let key = amina_domain::names::skeleton(&[&latin, &cyrillic]);
        execute(
            c,
            "INSERT INTO person_name_keys (card_number, skeleton, card_updated_at) \
             VALUES ($1, $2, $3) ON CONFLICT (card_number) DO UPDATE SET \
             skeleton = excluded.skeleton, card_updated_at = excluded.card_updated_at",
            &[&number, &key, &updated],
        )
        .await?;
    }
    Ok(())
}

const OPEN_SIGNALS: &str = "(SELECT COUNT(*) FROM signals s WHERE s.person_id = p.id \
     AND s.status IN ('open', 'in_review'))";

/// The console's "people near a point": `$1` latitude, `$2` longitude, `$3`
/// radius in metres, `$4` how many rows to read.
///
/// The GiST index holds each person's `nearby_anchor`, a point within
/// [`NEARBY_ANCHOR_SLACK_M`] of the trusted position (see
/// migrations/postgres/0018_hot_person_updates.sql). The query walks it
/// nearest anchor first (a KNN scan inside the radius widened by the slack)
/// and returns, for each person read, the anchor's distance, the exact
/// distance from `trusted_position` and whether that is within the radius;
/// [`nearest_exact`] then decides whether the rows read settle the answer.
///
/// Distances are great-circle distances on the sphere of the WGS 84 mean
/// radius (6,371,008.77 m), as SQLite's [`crate::console::distance_m`]
/// computes them (the two agree to a few nanometres): `<->` on geography and
/// `ST_DWithin(.., false)` both use that sphere. Against the WGS 84 spheroid
/// a sphere is off by at most 0.56 % (0.34 % east-west and 0.13 %
/// north-south in Moscow: 1.7 m at 500 m), in exchange for a much cheaper
/// computation and a KNN index scan.
fn nearby_sql() -> String {
    let here = "ST_MakePoint($2, $1)::geography";
    let slack = NEARBY_ANCHOR_SLACK_M;
    format!(
        "SELECT p.id, p.card_number, p.trusted_position <-> {here}, \
                ST_DWithin(p.trusted_position, {here}, $3::float8, false), \
                p.nearby_anchor <-> {here}, {OPEN_SIGNALS} \
         FROM persons p \
         WHERE ST_DWithin(p.nearby_anchor, {here}, $3::float8 + {slack}, false) \
         ORDER BY p.nearby_anchor <-> {here} LIMIT $4"
    )
}

/// A person the nearby query read: by anchor distance, with the exact one.
#[derive(Debug, Clone, PartialEq)]
struct NearbyRow {
    person: NearbyPerson,
    /// Whether the exact position is within the radius.
    inside: bool,
    /// The distance of the person's anchor (the order the rows come in).
    anchor_m: f64,
}

/// Rows to read for an answer of `limit` people: the limit, and as many
/// again as the anchors' slack may reorder at the cut (a quarter, and a few
/// for small limits); doubled by the caller while that is not enough.
fn nearby_first_read(limit: u32) -> u32 {
    limit.saturating_add(limit / 4).saturating_add(32)
}

/// The nearest `limit` people within the radius, by exact distance then id,
/// if the rows read (`asked` of them asked for, in anchor order) settle it;
/// None if more must be read.
///
/// Everyone not read has an anchor at least as far as the last row's, so
/// an exact distance of at least that minus the slack. The answer is
/// settled when the rows ran out before `asked`, or when `limit` people are
/// kept and the cut (the `limit`-th exact distance) lies below that bound:
/// no one unread can be nearer than the cut. With fewer kept, only running
/// out settles it (the anchors read reach at most the radius plus the
/// slack, so the bound never passes the radius).
fn nearest_exact(
    mut rows: Vec<NearbyRow>,
    asked: usize,
    limit: usize,
) -> Option<Vec<NearbyPerson>> {
    let unread_from = match rows.last() {
        Some(last) if rows.len() >= asked => Some(last.anchor_m - NEARBY_ANCHOR_SLACK_M),
        _ => None,
    };
    rows.retain(|r| r.inside);
    let mut kept: Vec<NearbyPerson> = rows.into_iter().map(|r| r.person).collect();
    kept.sort_by(|a, b| {
        a.distance_m
            .total_cmp(&b.distance_m)
            .then(a.person_id.cmp(&b.person_id))
    });
    kept.truncate(limit);
    if let Some(bound) = unread_from {
        let cut = match kept.last() {
            Some(p) if kept.len() == limit => p.distance_m,
            _ => f64::INFINITY,
        };
        // A margin for the rounding of the two distances.
        if limit > 0 && cut >= bound - 1e-6 {
            return None;
        }
    }
    Some(kept)
}

fn not_found_case() -> StoreError {
    StoreError::Console(ConsoleError::UnknownCase)
}

fn not_found_entry() -> StoreError {
    StoreError::Console(ConsoleError::UnknownRegistryEntry)
}

#[async_trait]
impl ConsoleStore for PostgresStore {
    async fn create_account(
        &self,
        a: NewAccount,
        audit: AuditEntry,
    ) -> Result<AccountRecord, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let row = query_opt(
            &tx,
            "INSERT INTO console_accounts (name, role, password_hash, totp_secret, created_at, \
             created_by) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO NOTHING RETURNING id",
            &[
                &a.name,
                &a.role.code(),
                &a.password_hash,
                &a.totp_secret,
                &to_system(audit.at),
                &a.created_by,
            ],
        )
        .await?
        .ok_or(StoreError::Console(ConsoleError::AccountExists))?;
        let id: i64 = get(&row, 0)?;
        let mut audit = audit;
        audit.subject = format!("account:{id}");
        append(&tx, &audit).await?;
        let rec = load_account(&tx, id, false).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(rec)
    }

    async fn account_by_name(&self, name: &str) -> Result<Option<AccountRecord>, StoreError> {
        let client = self.client().await?;
        query_opt(
            &client,
            &format!("SELECT {ACCOUNT_COLUMNS} FROM console_accounts WHERE name = $1"),
            &[&name],
        )
        .await?
        .map(|r| account_from_row(&r))
        .transpose()
    }

    async fn login_failed(
        &self,
        account_id: i64,
        now: Timestamp,
        lock_after: u32,
        lock_for: SignedDuration,
        audit: AuditEntry,
    ) -> Result<AccountRecord, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let a = load_account(&tx, account_id, true).await?;
        let failures = a.failed_attempts + 1;
        let (failures, locked_until) = if failures >= lock_after.max(1) {
            (0, Some(now + lock_for))
        } else {
            (failures, a.locked_until)
        };
        execute(
            &tx,
            "UPDATE console_accounts SET failed_attempts = $2, locked_until = $3 WHERE id = $1",
            &[
                &account_id,
                &(failures as i32),
                &locked_until.map(to_system),
            ],
        )
        .await?;
        let mut audit = audit;
        if let Some(until) = locked_until.filter(|_| failures == 0) {
            audit.detail["locked_until_ms"] = until.as_millisecond().into();
        }
        append(&tx, &audit).await?;
        let rec = load_account(&tx, account_id, false).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(rec)
    }

    async fn login_succeeded(
        &self,
        account_id: i64,
        totp_step: i64,
        session: NewSession,
        audit: AuditEntry,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        load_account(&tx, account_id, true).await?;
        let changed = execute(
            &tx,
            "UPDATE console_accounts SET failed_attempts = 0, locked_until = NULL, \
             totp_last_step = $2 WHERE id = $1 AND totp_last_step < $2",
            &[&account_id, &totp_step],
        )
        .await?;
        if changed == 0 {
            return Err(StoreError::Console(ConsoleError::TotpReplayed));
        }
        execute(
            &tx,
            "INSERT INTO console_sessions (id_hash, account_id, csrf_token, created_at, \
             last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $4, $5)",
            &[
                &session.id_hash.to_vec(),
                &account_id,
                &session.csrf_token,
                &to_system(session.created_at),
                &to_system(session.expires_at),
            ],
        )
        .await?;
        append(&tx, &audit).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(())
    }

    async fn session(
        &self,
        id_hash: [u8; 32],
        now: Timestamp,
        idle: SignedDuration,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let client = self.client().await?;
        let hash = id_hash.to_vec();
        let Some(r) = query_opt(
            &client,
            "SELECT a.id, a.name, a.role, s.csrf_token, s.created_at, s.last_seen_at, \
             s.expires_at FROM console_sessions s JOIN console_accounts a ON a.id = s.account_id \
             WHERE s.id_hash = $1 AND s.ended_at IS NULL AND a.disabled_at IS NULL",
            &[&hash],
        )
        .await?
        else {
            return Ok(None);
        };
        let (seen, expires) = (ts(&r, 5)?, ts(&r, 6)?);
        if now >= expires || now - idle > seen {
            execute(
                &client,
                "UPDATE console_sessions SET ended_at = $2 WHERE id_hash = $1 AND ended_at IS NULL",
                &[&hash, &to_system(now)],
            )
            .await?;
            return Ok(None);
        }
        execute(
            &client,
            "UPDATE console_sessions SET last_seen_at = GREATEST(last_seen_at, $2) WHERE id_hash = $1",
            &[&hash, &to_system(now)],
        )
        .await?;
        Ok(Some(SessionRecord {
            account_id: get(&r, 0)?,
            name: get(&r, 1)?,
            role: parse_role(get(&r, 2)?)?,
            csrf_token: get(&r, 3)?,
            created_at: ts(&r, 4)?,
            last_seen_at: now,
            expires_at: expires,
        }))
    }

    async fn end_session(
        &self,
        id_hash: [u8; 32],
        now: Timestamp,
        audit: AuditEntry,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let n = execute(
            &tx,
            "UPDATE console_sessions SET ended_at = $2 WHERE id_hash = $1 AND ended_at IS NULL",
            &[&id_hash.to_vec(), &to_system(now)],
        )
        .await?;
        if n > 0 {
            append(&tx, &audit).await?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(())
    }

    async fn search_persons(&self, q: PersonQuery) -> Result<Vec<PersonHit>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        refresh_name_index(&tx).await?;
        tx.commit().await.map_err(db_error)?;
        let patterns: Vec<String> = q.name_words.iter().map(|w| format!("% {w}%")).collect();
        let status = q.status.map(|s| match s {
            StatusFilter::Registered => "registered".to_string(),
            StatusFilter::Deregistered => "deregistered".to_string(),
        });
        let limit = i64::from(q.limit);
        let mut sql = format!(
            "SELECT p.id, c.number, c.name_latin, c.name_cyrillic, c.citizenship, p.status, \
             {OPEN_SIGNALS}, {} FROM persons p JOIN cards c ON c.number = p.card_number \
             JOIN person_name_keys k ON k.card_number = c.number WHERE true",
            crate::spotcheck::PERSON_DISTRICT
        );
        let mut args: Vec<&(dyn ToSql + Sync)> = Vec::new();
        if let Some(n) = &q.card_number {
            args.push(n);
            sql.push_str(&format!(" AND c.number = ${}", args.len()));
        }
        for p in &patterns {
            args.push(p);
            sql.push_str(&format!(" AND k.skeleton LIKE ${}", args.len()));
        }
        if let Some(c) = &q.citizenship {
            args.push(c);
            sql.push_str(&format!(" AND c.citizenship = ${}", args.len()));
        }
        if let Some(s) = &status {
            args.push(s);
            sql.push_str(&format!(" AND p.status = ${}", args.len()));
        }
        if let Some(d) = &q.district {
            args.push(d);
            sql.push_str(&format!(
                " AND {} = ${}",
                crate::spotcheck::PERSON_DISTRICT,
                args.len()
            ));
        }
        if !q.address_terms.is_empty() {
            let mut conds = Vec::new();
            for t in &q.address_terms {
                args.push(t);
                conds.push(format!("strpos(a.search_text, ${}) > 0", args.len()));
            }
            sql.push_str(&format!(
                " AND EXISTS (SELECT 1 FROM stay_notices n JOIN addresses a \
                 ON a.id = n.address_id WHERE n.person_id = p.id \
                 AND n.registration_id = p.registration_id AND n.superseded_at IS NULL \
                 AND {})",
                conds.join(" AND ")
            ));
        }
        args.push(&limit);
        sql.push_str(&format!(
            " ORDER BY c.name_latin, p.id LIMIT ${}",
            args.len()
        ));
        let rows = query(&client, &sql, &args).await?;
        rows.iter()
            .map(|r| {
                let status: String = get(r, 5)?;
                Ok(PersonHit {
                    person_id: get(r, 0)?,
                    card_number: get(r, 1)?,
                    name_latin: get(r, 2)?,
                    name_cyrillic: get(r, 3)?,
                    citizenship: get(r, 4)?,
                    status: RegistrationStatus::parse(&status)
                        .ok_or_else(|| StoreError::Internal(format!("bad status {status}")))?,
                    open_signals: get::<i64>(r, 6)? as u64,
                    district: get(r, 7)?,
                })
            })
            .collect()
    }

    async fn person_identity(&self, person_id: i64) -> Result<Option<PersonIdentity>, StoreError> {
        let client = self.client().await?;
        let Some(r) = query_opt(
            &client,
            "SELECT p.id, c.number, c.name_latin, c.name_cyrillic, c.citizenship, c.birth_date, \
             c.valid_until, p.status, p.registration_started_at, p.last_monitoring_at, \
             p.deadline_at, p.presence, p.presence_since, p.active_device_id \
             FROM persons p JOIN cards c ON c.number = p.card_number WHERE p.id = $1",
            &[&person_id],
        )
        .await?
        else {
            return Ok(None);
        };
        let status: String = get(&r, 7)?;
        let presence: String = get(&r, 11)?;
        Ok(Some(PersonIdentity {
            person_id: get(&r, 0)?,
            card_number: get(&r, 1)?,
            name_latin: get(&r, 2)?,
            name_cyrillic: get(&r, 3)?,
            citizenship: get(&r, 4)?,
            birth_date: get::<PgDate>(&r, 5)?.0.to_string(),
            card_valid_until: get::<PgDate>(&r, 6)?.0.to_string(),
            status: RegistrationStatus::parse(&status)
                .ok_or_else(|| StoreError::Internal(format!("bad status {status}")))?,
            registration_started_at: ts(&r, 8)?,
            last_monitoring_at: opt_ts(&r, 9)?,
            deadline_at: ts(&r, 10)?,
            presence: Presence::parse(&presence)
                .ok_or_else(|| StoreError::Internal(format!("bad presence {presence}")))?,
            presence_since: opt_ts(&r, 12)?,
            active_device_id: get(&r, 13)?,
        }))
    }

    async fn open_case(
        &self,
        person_id: i64,
        opened_by: &str,
        terms: CaseTerms,
        audit: AuditEntry,
    ) -> Result<CaseRecord, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        if query_opt(&tx, "SELECT 1 FROM persons WHERE id = $1", &[&person_id])
            .await?
            .is_none()
        {
            return Err(StoreError::UnknownPerson);
        }
        let row = query_one(
            &tx,
            "INSERT INTO cases (person_id, opened_by, opened_at, legal_basis, purpose, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            &[
                &person_id,
                &opened_by,
                &to_system(terms.opened_at),
                &terms.legal_basis,
                &terms.purpose,
                &to_system(terms.expires_at),
            ],
        )
        .await?;
        let id: i64 = get(&row, 0)?;
        append(&tx, &audit.case(id, terms.legal_basis.clone())).await?;
        let case = load_case(&tx, id, false)
            .await?
            .ok_or_else(not_found_case)?;
        tx.commit().await.map_err(db_error)?;
        Ok(case)
    }

    async fn case(&self, case_id: i64) -> Result<Option<CaseRecord>, StoreError> {
        let client = self.client().await?;
        load_case(&client, case_id, false).await
    }

    async fn cases_for_person(&self, person_id: i64) -> Result<Vec<CaseRecord>, StoreError> {
        let client = self.client().await?;
        query(
            &client,
            &format!("SELECT {CASE_COLUMNS} FROM cases WHERE person_id = $1 ORDER BY id DESC"),
            &[&person_id],
        )
        .await?
        .iter()
        .map(case_from_row)
        .collect()
    }

    async fn case_location(
        &self,
        case_id: i64,
        actor: &str,
        now: Timestamp,
        track_limit: u32,
        audit: AuditEntry,
    ) -> Result<CaseLocation, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let case = load_case(&tx, case_id, true)
            .await?
            .ok_or_else(not_found_case)?;
        check_case_use(&case, actor, now)?;
        let last_known = query_opt(
            &tx,
            "SELECT trusted_lat, trusted_lon, trusted_accuracy_m, trusted_at, presence \
             FROM persons WHERE id = $1 AND trusted_lat IS NOT NULL",
            &[&case.person_id],
        )
        .await?
        .map(|r| {
            Ok::<_, StoreError>(TrackPoint {
                lat: get(&r, 0)?,
                lon: get(&r, 1)?,
                accuracy_m: get(&r, 2)?,
                recorded_at: ts(&r, 3)?,
                zone: get(&r, 4)?,
                flagged: false,
            })
        })
        .transpose()?;
        let track = query(
            &tx,
            "SELECT lat, lon, accuracy_m, recorded_at, zone, flags FROM fixes \
             WHERE person_id = $1 ORDER BY recorded_at DESC LIMIT $2",
            &[&case.person_id, &i64::from(track_limit)],
        )
        .await?
        .iter()
        .map(|r| {
            let f = flags_from_bits(i64::from(get::<i16>(r, 5)?));
            Ok(TrackPoint {
                lat: get(r, 0)?,
                lon: get(r, 1)?,
                accuracy_m: get(r, 2)?,
                recorded_at: ts(r, 3)?,
                zone: get(r, 4)?,
                flagged: f.mock_location || f.implausible_speed,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
        let mut audit = audit.case(case.id, case.legal_basis.clone());
        audit.detail["track_points"] = track.len().into();
        append(&tx, &audit).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(CaseLocation {
            case,
            last_known,
            track,
        })
    }

    async fn close_case(
        &self,
        case_id: i64,
        actor: &str,
        now: Timestamp,
        audit: AuditEntry,
    ) -> Result<CaseRecord, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let case = load_case(&tx, case_id, true)
            .await?
            .ok_or_else(not_found_case)?;
        if case.opened_by != actor {
            return Err(StoreError::Console(ConsoleError::NotCaseOwner));
        }
        if case.closed_at.is_some() {
            return Err(StoreError::Console(ConsoleError::CaseClosed));
        }
        execute(
            &tx,
            "UPDATE cases SET closed_at = $2, closed_by = $3 WHERE id = $1",
            &[&case_id, &to_system(now), &actor],
        )
        .await?;
        append(&tx, &audit.case(case.id, case.legal_basis.clone())).await?;
        let after = load_case(&tx, case_id, false)
            .await?
            .ok_or_else(not_found_case)?;
        tx.commit().await.map_err(db_error)?;
        Ok(after)
    }

    async fn review_signal_audited(
        &self,
        review: SignalReview,
        audit: AuditEntry,
    ) -> Result<SignalRecord, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let after = super::signals::apply_review(&tx, &review).await?;
        append(&tx, &audit).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(after)
    }

    async fn signal_counts(&self) -> Result<Vec<SignalCount>, StoreError> {
        let client = self.client().await?;
        query(
            &client,
            "SELECT kind, status, COUNT(*) FROM signals GROUP BY kind, status ORDER BY kind, status",
            &[],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(SignalCount {
                kind: get(r, 0)?,
                status: get(r, 1)?,
                count: get::<i64>(r, 2)? as u64,
            })
        })
        .collect()
    }

    async fn propose_registry(&self, now: Timestamp) -> Result<Vec<i64>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let due = query(
            &tx,
            "SELECT d.id, d.person_id, d.effective_at, d.evidence, d.rule_version \
             FROM deregistrations d LEFT JOIN registry_entries r ON r.deregistration_id = d.id \
             WHERE d.reason = $1 AND r.id IS NULL ORDER BY d.id",
            &[&DeregistrationReason::NoMonitoring.as_str()],
        )
        .await?;
        let mut ids = Vec::new();
        for d in due {
            let dereg: i64 = get(&d, 0)?;
            let person: i64 = get(&d, 1)?;
            let rule: String = get(&d, 4)?;
            let ev = proposal_evidence(dereg, ts(&d, 2)?, get(&d, 3)?, &rule);
            // Another node may be proposing the same deregistration now.
            let Some(row) = query_opt(
                &tx,
                "INSERT INTO registry_entries (person_id, deregistration_id, proposed_at, evidence) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (deregistration_id) DO NOTHING RETURNING id",
                &[&person, &dereg, &to_system(now), &ev],
            )
            .await?
            else {
                continue;
            };
            let id: i64 = get(&row, 0)?;
            append(
                &tx,
                &AuditEntry::new(
                    now,
                    "system",
                    "system",
                    "registry.propose",
                    format!("person:{person}"),
                )
                .detail(serde_json::json!({"entry": id, "deregistration_id": dereg})),
            )
            .await?;
            ids.push(id);
        }
        tx.commit().await.map_err(db_error)?;
        Ok(ids)
    }

    async fn registry_entries(
        &self,
        status: Option<RegistryStatus>,
        limit: u32,
    ) -> Result<Vec<RegistryEntry>, StoreError> {
        let client = self.client().await?;
        let code = status.map(|s| s.code().to_string());
        query(
            &client,
            &format!(
                "SELECT {REGISTRY_COLUMNS} FROM {REGISTRY_FROM} \
                 WHERE ($1::text IS NULL OR r.status = $1) ORDER BY r.id DESC LIMIT $2"
            ),
            &[&code, &i64::from(limit)],
        )
        .await?
        .iter()
        .map(registry_from_row)
        .collect()
    }

    async fn registry_entry(&self, id: i64) -> Result<Option<RegistryEntry>, StoreError> {
        let client = self.client().await?;
        load_registry(&client, id, false).await
    }

    async fn decide_registry(
        &self,
        id: i64,
        decision: RegistryDecision,
        actor: &str,
        reason: &str,
        now: Timestamp,
        audit: AuditEntry,
    ) -> Result<RegistryEntry, StoreError> {
        let reason = amina_domain::console::reason(Some(reason))?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let entry = load_registry(&tx, id, true)
            .await?
            .ok_or_else(not_found_entry)?;
        let to = decided_status(entry.status, decision)?;
        execute(
            &tx,
            "UPDATE registry_entries SET status = $2, decided_by = $3, decided_at = $4, \
             decision_reason = $5 WHERE id = $1",
            &[&id, &to.code(), &actor, &to_system(now), &reason],
        )
        .await?;
        add_event(
            &tx,
            entry.person_id,
            now,
            "registry_decision",
            actor,
            serde_json::json!({"entry": id, "decision": to.code(), "reason": reason}),
        )
        .await?;
        append(&tx, &audit).await?;
        let after = load_registry(&tx, id, false)
            .await?
            .ok_or_else(not_found_entry)?;
        tx.commit().await.map_err(db_error)?;
        Ok(after)
    }

    async fn remove_from_registry(
        &self,
        id: i64,
        actor: &str,
        reason: &str,
        now: Timestamp,
        audit: AuditEntry,
    ) -> Result<RegistryEntry, StoreError> {
        let reason = amina_domain::console::reason(Some(reason))?;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let entry = load_registry(&tx, id, true)
            .await?
            .ok_or_else(not_found_entry)?;
        if entry.status != RegistryStatus::Included {
            return Err(StoreError::Console(ConsoleError::RegistryState(
                entry.status,
            )));
        }
        execute(
            &tx,
            "UPDATE registry_entries SET status = 'removed', removed_by = $2, removed_at = $3, \
             removal_reason = $4 WHERE id = $1",
            &[&id, &actor, &to_system(now), &reason],
        )
        .await?;
        add_event(
            &tx,
            entry.person_id,
            now,
            "registry_removal",
            actor,
            serde_json::json!({"entry": id, "reason": reason}),
        )
        .await?;
        append(&tx, &audit).await?;
        let after = load_registry(&tx, id, false)
            .await?
            .ok_or_else(not_found_entry)?;
        tx.commit().await.map_err(db_error)?;
        Ok(after)
    }

    async fn nearby(
        &self,
        lat: f64,
        lon: f64,
        radius_m: f64,
        limit: u32,
    ) -> Result<Vec<NearbyPerson>, StoreError> {
        // One KNN walk of the index, nearest anchor first, that reads a
        // little more than `limit` rows however many people the circle
        // holds; read again, twice as far, whenever the rows do not
        // settle the exact answer (see [`nearest_exact`]).
        let client = self.client().await?;
        let sql = nearby_sql();
        let mut asked = nearby_first_read(limit);
        loop {
            let rows = query(&client, &sql, &[&lat, &lon, &radius_m, &i64::from(asked)])
                .await?
                .iter()
                .map(|r| {
                    Ok(NearbyRow {
                        person: NearbyPerson {
                            person_id: get(r, 0)?,
                            card_number: get(r, 1)?,
                            distance_m: get(r, 2)?,
                            open_signals: get::<i64>(r, 5)? as u64,
                        },
                        inside: get(r, 3)?,
                        anchor_m: get(r, 4)?,
                    })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            if let Some(answer) = nearest_exact(rows, asked as usize, limit as usize) {
                return Ok(answer);
            }
            asked = asked.saturating_mul(2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, distance_m: f64, anchor_m: f64) -> NearbyRow {
        NearbyRow {
            person: NearbyPerson {
                person_id: id,
                card_number: format!("C{id}"),
                distance_m,
                open_signals: 0,
            },
            inside: distance_m <= 500.0,
            anchor_m,
        }
    }

    fn ids(answer: Option<Vec<NearbyPerson>>) -> Option<Vec<i64>> {
        answer.map(|a| a.iter().map(|p| p.person_id).collect())
    }

    #[test]
    fn rows_that_ran_out_are_the_whole_circle() {
        // Read in anchor order; exact order differs; 4 is outside.
        let rows = vec![
            row(1, 120.0, 100.0),
            row(2, 110.0, 110.0),
            row(3, 110.0, 115.0),
            row(4, 505.0, 485.0),
        ];
        assert_eq!(ids(nearest_exact(rows.clone(), 5, 10)), Some(vec![2, 3, 1]));
        assert_eq!(ids(nearest_exact(rows, 5, 2)), Some(vec![2, 3]));
    }

    #[test]
    fn a_cut_below_the_unread_bound_settles_it() {
        // The last anchor read is at 200 m: everyone unread is at least
        // 175 m away, beyond the cut at 120 m.
        let rows = vec![
            row(1, 120.0, 100.0),
            row(2, 110.0, 110.0),
            row(3, 190.0, 200.0),
        ];
        assert_eq!(ids(nearest_exact(rows, 3, 2)), Some(vec![2, 1]));
    }

    #[test]
    fn a_cut_within_the_slack_of_the_last_anchor_reads_further() {
        // Cut at 180 m, unread from 175 m: someone unread may be nearer.
        let rows = vec![
            row(1, 120.0, 100.0),
            row(2, 180.0, 170.0),
            row(3, 190.0, 200.0),
        ];
        assert_eq!(ids(nearest_exact(rows, 3, 2)), None);
        // Too few inside the radius while rows remain: read further.
        let rows = vec![row(1, 120.0, 100.0), row(2, 505.0, 490.0)];
        assert_eq!(ids(nearest_exact(rows, 2, 5)), None);
    }

    #[test]
    fn a_limit_of_zero_lists_no_one() {
        let rows = vec![row(1, 120.0, 100.0)];
        assert_eq!(ids(nearest_exact(rows, 1, 0)), Some(vec![]));
    }
}
