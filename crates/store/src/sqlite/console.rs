//! [`ConsoleStore`] on SQLite. Every write runs on the writer thread with
//! its audit record (see [`super::audit::append`]) in the same transaction.

use std::collections::HashMap;

use amina_domain::console::{CaseTerms, RegistryDecision, RegistryStatus};
use amina_domain::monitor::{DeregistrationReason, Presence, RegistrationStatus};
use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};

use super::audit::append;
use super::{flags_from_bits, opt_ms, SqliteStore};
use crate::console::{
    check_case_use, decided_status, distance_m, parse_registry_status, parse_role,
    proposal_evidence,
};
use crate::time::{from_ms, to_ms};
use crate::*;

pub(super) const ACCOUNT_COLUMNS: &str =
    "id, name, role, password_hash, totp_secret, totp_last_step, \
     failed_attempts, locked_until, created_at, disabled_at";

pub(super) fn account_from_row(r: &Row<'_>) -> Result<AccountRecord, StoreError> {
    Ok(AccountRecord {
        id: r.get(0)?,
        name: r.get(1)?,
        role: parse_role(&r.get::<_, String>(2)?)?,
        password_hash: r.get(3)?,
        totp_secret: r.get(4)?,
        totp_last_step: r.get(5)?,
        failed_attempts: r.get(6)?,
        locked_until: opt_ms(r.get(7)?)?,
        created_at: from_ms(r.get(8)?)?,
        disabled: r.get::<_, Option<i64>>(9)?.is_some(),
    })
}

pub(super) fn load_account(conn: &Connection, id: i64) -> Result<AccountRecord, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM console_accounts WHERE id = ?1"
    ))?
    .query_row(params![id], |r| Ok(account_from_row(r)))
    .optional()?
    .ok_or(StoreError::Console(ConsoleError::UnknownAccount))?
}

const CASE_COLUMNS: &str = "id, person_id, opened_by, opened_at, legal_basis, purpose, \
     expires_at, closed_at, closed_by";

fn case_from_row(r: &Row<'_>) -> Result<CaseRecord, StoreError> {
    Ok(CaseRecord {
        id: r.get(0)?,
        person_id: r.get(1)?,
        opened_by: r.get(2)?,
        opened_at: from_ms(r.get(3)?)?,
        legal_basis: r.get(4)?,
        purpose: r.get(5)?,
        expires_at: from_ms(r.get(6)?)?,
        closed_at: opt_ms(r.get(7)?)?,
        closed_by: r.get(8)?,
    })
}

fn load_case(conn: &Connection, id: i64) -> Result<Option<CaseRecord>, StoreError> {
    conn.prepare_cached(&format!("SELECT {CASE_COLUMNS} FROM cases WHERE id = ?1"))?
        .query_row(params![id], |r| Ok(case_from_row(r)))
        .optional()?
        .transpose()
}

const REGISTRY_COLUMNS: &str = "r.id, r.person_id, c.number, c.name_latin, c.name_cyrillic, \
     c.citizenship, r.deregistration_id, r.proposed_at, r.evidence, r.status, r.decided_by, \
     r.decided_at, r.decision_reason, r.removed_by, r.removed_at, r.removal_reason";
const REGISTRY_FROM: &str = "registry_entries r JOIN persons p ON p.id = r.person_id \
     JOIN cards c ON c.number = p.card_number";

fn registry_from_row(r: &Row<'_>) -> Result<RegistryEntry, StoreError> {
    let evidence: String = r.get(8)?;
    Ok(RegistryEntry {
        id: r.get(0)?,
        person_id: r.get(1)?,
        card_number: r.get(2)?,
        name_latin: r.get(3)?,
        name_cyrillic: r.get(4)?,
        citizenship: r.get(5)?,
        deregistration_id: r.get(6)?,
        proposed_at: from_ms(r.get(7)?)?,
        evidence: serde_json::from_str(&evidence)
            .map_err(|e| StoreError::Internal(format!("bad registry evidence: {e}")))?,
        status: parse_registry_status(&r.get::<_, String>(9)?)?,
        decided_by: r.get(10)?,
        decided_at: opt_ms(r.get(11)?)?,
        decision_reason: r.get(12)?,
        removed_by: r.get(13)?,
        removed_at: opt_ms(r.get(14)?)?,
        removal_reason: r.get(15)?,
    })
}

fn load_registry(conn: &Connection, id: i64) -> Result<Option<RegistryEntry>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {REGISTRY_COLUMNS} FROM {REGISTRY_FROM} WHERE r.id = ?1"
    ))?
    .query_row(params![id], |r| Ok(registry_from_row(r)))
    .optional()?
    .transpose()
}

/// Bring the name index up to date with the cards (those changed since the
/// newest indexed change; an import writes one `updated_at` for all its
/// cards, so `>=` re-reads at most the last import).
fn refresh_name_index(conn: &Connection) -> Result<(), StoreError> {
    let mark: i64 = conn.query_row(
        "SELECT COALESCE(MAX(card_updated_at), -1) FROM person_name_keys",
        [],
        |r| r.get(0),
    )?;
    let mut stmt = conn.prepare_cached(
        "SELECT number, name_latin, name_cyrillic, updated_at FROM cards WHERE updated_at >= ?1",
    )?;
    let rows = stmt.query_map(params![mark], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, i64>(3)?,
        ))
    })?;
    let mut upsert = conn.prepare_cached(
        "INSERT INTO person_name_keys (card_number, skeleton, card_updated_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (card_number) DO UPDATE SET skeleton = excluded.skeleton, \
         card_updated_at = excluded.card_updated_at",
    )?;
    for row in rows {
        let (number, latin, cyrillic, updated) = row?;
        let key = amina_domain::names::skeleton(&[&latin, &cyrillic]);
        upsert.execute(params![number, key, updated])?;
    }
    Ok(())
}

fn open_signals_sql(person: &str) -> String {
    format!(
        "(SELECT COUNT(*) FROM signals s WHERE s.person_id = {person} \
         AND s.status IN ('open', 'in_review'))"
    )
}

/// `(distance, person id)` of everybody whose last trusted position is
/// within `radius_m` of the point, in no particular order.
///
/// A bounding box first, on the `persons_trusted_band` index (migration
/// 0016): one seek per band of a thousandth of a degree of latitude that the
/// box spans, each reading the box's longitudes only; the index holds the
/// exact latitude too, so this reads no table row. Then the exact distance
/// on the sphere ([`distance_m`]). The band expression must be spelled as in
/// the index for SQLite to use it.
fn near_positions(
    conn: &Connection,
    lat: f64,
    lon: f64,
    radius_m: f64,
) -> Result<Vec<(f64, i64)>, StoreError> {
    // 111,000 m per degree of latitude is less than the sphere's 111,195, so
    // the box is a little larger than the circle, never smaller.
    let dlat = radius_m / 111_000.0;
    let dlon = radius_m / (111_000.0 * lat.to_radians().cos().max(0.01));
    let mut stmt = conn.prepare_cached(
        "WITH RECURSIVE band(v) AS ( \
             SELECT CAST(?1 * 1000 AS INTEGER) \
             UNION ALL SELECT v + 1 FROM band WHERE v < CAST(?2 * 1000 AS INTEGER)) \
         SELECT p.id, p.trusted_lat, p.trusted_lon FROM persons p \
         WHERE CAST(p.trusted_lat * 1000 AS INTEGER) IN band \
           AND p.trusted_lat BETWEEN ?1 AND ?2 AND p.trusted_lon BETWEEN ?3 AND ?4",
    )?;
    let mut rows = stmt.query(params![lat - dlat, lat + dlat, lon - dlon, lon + dlon])?;
    let mut near = Vec::new();
    while let Some(r) = rows.next()? {
        let d = distance_m(lat, lon, r.get(1)?, r.get(2)?);
        if d <= radius_m {
            near.push((d, r.get::<_, i64>(0)?));
        }
    }
    Ok(near)
}

/// The chosen people with their card numbers and open signals, in the
/// order given: one statement for all of them, so signals are counted for
/// the people shown only.
fn with_cards_and_signals(
    conn: &Connection,
    near: &[(f64, i64)],
) -> Result<Vec<NearbyPerson>, StoreError> {
    if near.is_empty() {
        return Ok(Vec::new());
    }
    let ids = serde_json::to_string(&near.iter().map(|n| n.1).collect::<Vec<_>>())
        .map_err(|e| StoreError::Internal(format!("person ids as JSON: {e}")))?;
    let mut found: HashMap<i64, (String, u64)> = conn
        .prepare_cached(&format!(
            "SELECT p.id, p.card_number, {} FROM persons p \
             WHERE p.id IN (SELECT value FROM json_each(?1))",
            open_signals_sql("p.id")
        ))?
        .query_map(params![ids], |r| {
            Ok((r.get(0)?, (r.get(1)?, r.get::<_, i64>(2)? as u64)))
        })?
        .collect::<Result<_, _>>()?;
    near.iter()
        .map(|&(distance_m, person_id)| {
            let (card_number, open_signals) = found.remove(&person_id).ok_or_else(|| {
                StoreError::Internal(format!("person {person_id} vanished while read"))
            })?;
            Ok(NearbyPerson {
                person_id,
                card_number,
                distance_m,
                open_signals,
            })
        })
        .collect()
}

#[async_trait]
impl ConsoleStore for SqliteStore {
    async fn create_account(
        &self,
        a: NewAccount,
        audit: AuditEntry,
    ) -> Result<AccountRecord, StoreError> {
        self.write(move |conn| {
            let exists = conn
                .prepare_cached("SELECT 1 FROM console_accounts WHERE name = ?1")?
                .exists(params![a.name])?;
            if exists {
                return Err(StoreError::Console(ConsoleError::AccountExists));
            }
            conn.prepare_cached(
                "INSERT INTO console_accounts (name, role, password_hash, totp_secret, \
                 created_at, created_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                a.name,
                a.role.code(),
                a.password_hash,
                a.totp_secret,
                to_ms(audit.at),
                a.created_by
            ])?;
            let id = conn.last_insert_rowid();
            let mut audit = audit;
            audit.subject = format!("account:{id}");
            append(conn, &audit)?;
            load_account(conn, id)
        })
        .await
    }

    async fn account_by_name(&self, name: &str) -> Result<Option<AccountRecord>, StoreError> {
        let name = name.to_string();
        self.read(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {ACCOUNT_COLUMNS} FROM console_accounts WHERE name = ?1"
            ))?
            .query_row(params![name], |r| Ok(account_from_row(r)))
            .optional()?
            .transpose()
        })
        .await
    }

    async fn login_failed(
        &self,
        account_id: i64,
        now: Timestamp,
        lock_after: u32,
        lock_for: SignedDuration,
        audit: AuditEntry,
    ) -> Result<AccountRecord, StoreError> {
        self.write(move |conn| {
            let a = load_account(conn, account_id)?;
            let failures = a.failed_attempts + 1;
            let (failures, locked_until) = if failures >= lock_after.max(1) {
                (0, Some(to_ms(now + lock_for)))
            } else {
                (failures, a.locked_until.map(to_ms))
            };
            conn.prepare_cached(
                "UPDATE console_accounts SET failed_attempts = ?2, locked_until = ?3 WHERE id = ?1",
            )?
            .execute(params![account_id, failures, locked_until])?;
            let mut audit = audit;
            if let Some(until) = locked_until.filter(|_| failures == 0) {
                audit.detail["locked_until_ms"] = until.into();
            }
            append(conn, &audit)?;
            load_account(conn, account_id)
        })
        .await
    }

    async fn login_succeeded(
        &self,
        account_id: i64,
        totp_step: i64,
        session: NewSession,
        audit: AuditEntry,
    ) -> Result<(), StoreError> {
        self.write(move |conn| {
            let changed = conn
                .prepare_cached(
                    "UPDATE console_accounts SET failed_attempts = 0, locked_until = NULL, \
                     totp_last_step = ?2 WHERE id = ?1 AND totp_last_step < ?2",
                )?
                .execute(params![account_id, totp_step])?;
            if changed == 0 {
                load_account(conn, account_id)?;
                return Err(StoreError::Console(ConsoleError::TotpReplayed));
            }
            conn.prepare_cached(
                "INSERT INTO console_sessions (id_hash, account_id, csrf_token, created_at, \
                 last_seen_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
            )?
            .execute(params![
                session.id_hash.to_vec(),
                account_id,
                session.csrf_token,
                to_ms(session.created_at),
                to_ms(session.expires_at)
            ])?;
            append(conn, &audit)?;
            Ok(())
        })
        .await
    }

    async fn session(
        &self,
        id_hash: [u8; 32],
        now: Timestamp,
        idle: SignedDuration,
    ) -> Result<Option<SessionRecord>, StoreError> {
        self.write(move |conn| {
            let found = conn
                .prepare_cached(
                    "SELECT a.id, a.name, a.role, s.csrf_token, s.created_at, s.last_seen_at, \
                     s.expires_at FROM console_sessions s JOIN console_accounts a \
                     ON a.id = s.account_id WHERE s.id_hash = ?1 AND s.ended_at IS NULL \
                     AND a.disabled_at IS NULL",
                )?
                .query_row(params![id_hash.to_vec()], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, i64>(4)?,
                        r.get::<_, i64>(5)?,
                        r.get::<_, i64>(6)?,
                    ))
                })
                .optional()?;
            let Some((account_id, name, role, csrf, created, seen, expires)) = found else {
                return Ok(None);
            };
            let (seen, expires) = (from_ms(seen)?, from_ms(expires)?);
            if now >= expires || now - idle > seen {
                conn.prepare_cached(
                    "UPDATE console_sessions SET ended_at = ?2 WHERE id_hash = ?1",
                )?
                .execute(params![id_hash.to_vec(), to_ms(now)])?;
                return Ok(None);
            }
            conn.prepare_cached(
                "UPDATE console_sessions SET last_seen_at = ?2 WHERE id_hash = ?1",
            )?
            .execute(params![id_hash.to_vec(), to_ms(now)])?;
            Ok(Some(SessionRecord {
                account_id,
                name,
                role: parse_role(&role)?,
                csrf_token: csrf,
                created_at: from_ms(created)?,
                last_seen_at: now,
                expires_at: expires,
            }))
        })
        .await
    }

    async fn end_session(
        &self,
        id_hash: [u8; 32],
        now: Timestamp,
        audit: AuditEntry,
    ) -> Result<(), StoreError> {
        self.write(move |conn| {
            let n = conn
                .prepare_cached(
                    "UPDATE console_sessions SET ended_at = ?2 WHERE id_hash = ?1 AND ended_at IS NULL",
                )?
                .execute(params![id_hash.to_vec(), to_ms(now)])?;
            if n > 0 {
                append(conn, &audit)?;
            }
            Ok(())
        })
        .await
    }

    async fn search_persons(&self, q: PersonQuery) -> Result<Vec<PersonHit>, StoreError> {
        self.write(move |conn| {
            refresh_name_index(conn)?;
            let mut sql = format!(
                "SELECT p.id, c.number, c.name_latin, c.name_cyrillic, c.citizenship, p.status, \
                 {}, {} FROM persons p JOIN cards c ON c.number = p.card_number \
                 JOIN person_name_keys k ON k.card_number = c.number WHERE 1 = 1",
                open_signals_sql("p.id"),
                crate::spotcheck::PERSON_DISTRICT
            );
            let mut args: Vec<rusqlite::types::Value> = Vec::new();
            if let Some(n) = &q.card_number {
                args.push(n.clone().into());
                sql.push_str(&format!(" AND c.number = ?{}", args.len()));
            }
            for w in &q.name_words {
                // Skeleton words are a–z and 0–9 only: nothing to escape.
                args.push(format!("% {w}%").into());
                sql.push_str(&format!(" AND k.skeleton LIKE ?{}", args.len()));
            }
            if let Some(c) = &q.citizenship {
                args.push(c.clone().into());
                sql.push_str(&format!(" AND c.citizenship = ?{}", args.len()));
            }
            if let Some(s) = q.status {
                let code = match s {
                    StatusFilter::Registered => "registered",
                    StatusFilter::Deregistered => "deregistered",
                };
                args.push(code.to_string().into());
                sql.push_str(&format!(" AND p.status = ?{}", args.len()));
            }
            if let Some(d) = &q.district {
                args.push(d.clone().into());
                sql.push_str(&format!(
                    " AND {} = ?{}",
                    crate::spotcheck::PERSON_DISTRICT,
                    args.len()
                ));
            }
            if !q.address_terms.is_empty() {
                let mut conds = Vec::new();
                for t in &q.address_terms {
                    args.push(t.clone().into());
                    conds.push(format!("instr(a.search_text, ?{}) > 0", args.len()));
                }
                sql.push_str(&format!(
                    " AND EXISTS (SELECT 1 FROM stay_notices n JOIN addresses a \
                     ON a.id = n.address_id WHERE n.person_id = p.id \
                     AND n.registration_id = p.registration_id AND n.superseded_at IS NULL \
                     AND {})",
                    conds.join(" AND ")
                ));
            }
            args.push(i64::from(q.limit).into());
            sql.push_str(&format!(
                " ORDER BY c.name_latin, p.id LIMIT ?{}",
                args.len()
            ));
            let mut stmt = conn.prepare(&sql)?;
            let rows = stmt.query_map(params_from_iter(args), |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, Option<String>>(7)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (person_id, card_number, name_latin, name_cyrillic, citizenship, status, n, d) =
                    row?;
                out.push(PersonHit {
                    person_id,
                    card_number,
                    name_latin,
                    name_cyrillic,
                    citizenship,
                    status: RegistrationStatus::parse(&status)
                        .ok_or_else(|| StoreError::Internal(format!("bad status {status}")))?,
                    open_signals: n as u64,
                    district: d,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn person_identity(&self, person_id: i64) -> Result<Option<PersonIdentity>, StoreError> {
        self.read(move |conn| {
            let row = conn
                .prepare_cached(
                    "SELECT p.id, c.number, c.name_latin, c.name_cyrillic, c.citizenship, \
                     c.birth_date, c.valid_until, p.status, p.registration_started_at, \
                     p.last_monitoring_at, p.deadline_at, p.presence, p.presence_since, \
                     p.active_device_id FROM persons p JOIN cards c ON c.number = p.card_number \
                     WHERE p.id = ?1",
                )?
                .query_row(params![person_id], |r| {
                    Ok((
                        (
                            r.get::<_, i64>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, String>(3)?,
                            r.get::<_, String>(4)?,
                            r.get::<_, String>(5)?,
                            r.get::<_, String>(6)?,
                        ),
                        (
                            r.get::<_, String>(7)?,
                            r.get::<_, i64>(8)?,
                            r.get::<_, Option<i64>>(9)?,
                            r.get::<_, i64>(10)?,
                            r.get::<_, String>(11)?,
                            r.get::<_, Option<i64>>(12)?,
                            r.get::<_, Option<String>>(13)?,
                        ),
                    ))
                })
                .optional()?;
            let Some((a, b)) = row else { return Ok(None) };
            Ok(Some(PersonIdentity {
                person_id: a.0,
                card_number: a.1,
                name_latin: a.2,
                name_cyrillic: a.3,
                citizenship: a.4,
                birth_date: a.5,
                card_valid_until: a.6,
                status: RegistrationStatus::parse(&b.0)
                    .ok_or_else(|| StoreError::Internal(format!("bad status {}", b.0)))?,
                registration_started_at: from_ms(b.1)?,
                last_monitoring_at: opt_ms(b.2)?,
                deadline_at: from_ms(b.3)?,
                presence: Presence::parse(&b.4)
                    .ok_or_else(|| StoreError::Internal(format!("bad presence {}", b.4)))?,
                presence_since: opt_ms(b.5)?,
                active_device_id: b.6,
            }))
        })
        .await
    }

    async fn open_case(
        &self,
        person_id: i64,
        opened_by: &str,
        terms: CaseTerms,
        audit: AuditEntry,
    ) -> Result<CaseRecord, StoreError> {
        let opened_by = opened_by.to_string();
        self.write(move |conn| {
            let exists = conn
                .prepare_cached("SELECT 1 FROM persons WHERE id = ?1")?
                .exists(params![person_id])?;
            if !exists {
                return Err(StoreError::UnknownPerson);
            }
            conn.prepare_cached(
                "INSERT INTO cases (person_id, opened_by, opened_at, legal_basis, purpose, \
                 expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                person_id,
                opened_by,
                to_ms(terms.opened_at),
                terms.legal_basis,
                terms.purpose,
                to_ms(terms.expires_at)
            ])?;
            let id = conn.last_insert_rowid();
            let audit = audit.case(id, terms.legal_basis.clone());
            append(conn, &audit)?;
            load_case(conn, id)?.ok_or(StoreError::Console(ConsoleError::UnknownCase))
        })
        .await
    }

    async fn case(&self, case_id: i64) -> Result<Option<CaseRecord>, StoreError> {
        self.read(move |conn| load_case(conn, case_id)).await
    }

    async fn cases_for_person(&self, person_id: i64) -> Result<Vec<CaseRecord>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {CASE_COLUMNS} FROM cases WHERE person_id = ?1 ORDER BY id DESC"
            ))?;
            let rows = stmt.query_map(params![person_id], |r| Ok(case_from_row(r)))?;
            let mut out = Vec::new();
            for r in rows {
                out.push(r??);
            }
            Ok(out)
        })
        .await
    }

    async fn case_location(
        &self,
        case_id: i64,
        actor: &str,
        now: Timestamp,
        track_limit: u32,
        audit: AuditEntry,
    ) -> Result<CaseLocation, StoreError> {
        let actor = actor.to_string();
        self.write(move |conn| {
            let case =
                load_case(conn, case_id)?.ok_or(StoreError::Console(ConsoleError::UnknownCase))?;
            check_case_use(&case, &actor, now)?;
            let last_known = conn
                .prepare_cached(
                    "SELECT trusted_lat, trusted_lon, trusted_accuracy_m, trusted_at, presence \
                     FROM persons WHERE id = ?1 AND trusted_lat IS NOT NULL",
                )?
                .query_row(params![case.person_id], |r| {
                    Ok((
                        r.get::<_, f64>(0)?,
                        r.get::<_, f64>(1)?,
                        r.get::<_, f64>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, String>(4)?,
                    ))
                })
                .optional()?
                .map(|(lat, lon, acc, at, zone)| {
                    Ok::<_, StoreError>(TrackPoint {
                        lat,
                        lon,
                        accuracy_m: acc,
                        recorded_at: from_ms(at)?,
                        zone,
                        flagged: false,
                    })
                })
                .transpose()?;
            let mut stmt = conn.prepare_cached(
                "SELECT lat, lon, accuracy_m, recorded_at, zone, flags FROM fixes \
                 WHERE person_id = ?1 ORDER BY recorded_at DESC LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![case.person_id, i64::from(track_limit)], |r| {
                Ok((
                    r.get::<_, f64>(0)?,
                    r.get::<_, f64>(1)?,
                    r.get::<_, f64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, i64>(5)?,
                ))
            })?;
            let mut track = Vec::new();
            for row in rows {
                let (lat, lon, accuracy_m, at, zone, flags) = row?;
                let f = flags_from_bits(flags);
                track.push(TrackPoint {
                    lat,
                    lon,
                    accuracy_m,
                    recorded_at: from_ms(at)?,
                    zone,
                    flagged: f.mock_location || f.implausible_speed,
                });
            }
            let mut audit = audit.case(case.id, case.legal_basis.clone());
            audit.detail["track_points"] = track.len().into();
            append(conn, &audit)?;
            Ok(CaseLocation {
                case,
                last_known,
                track,
            })
        })
        .await
    }

    async fn close_case(
        &self,
        case_id: i64,
        actor: &str,
        now: Timestamp,
        audit: AuditEntry,
    ) -> Result<CaseRecord, StoreError> {
        let actor = actor.to_string();
        self.write(move |conn| {
            let case =
                load_case(conn, case_id)?.ok_or(StoreError::Console(ConsoleError::UnknownCase))?;
            if case.opened_by != actor {
                return Err(StoreError::Console(ConsoleError::NotCaseOwner));
            }
            if case.closed_at.is_some() {
                return Err(StoreError::Console(ConsoleError::CaseClosed));
            }
            conn.prepare_cached("UPDATE cases SET closed_at = ?2, closed_by = ?3 WHERE id = ?1")?
                .execute(params![case_id, to_ms(now), actor])?;
            append(conn, &audit.case(case.id, case.legal_basis.clone()))?;
            load_case(conn, case_id)?.ok_or(StoreError::Console(ConsoleError::UnknownCase))
        })
        .await
    }

    async fn review_signal_audited(
        &self,
        review: SignalReview,
        audit: AuditEntry,
    ) -> Result<SignalRecord, StoreError> {
        self.write(move |conn| {
            let after = super::signals::apply_review(conn, &review)?;
            append(conn, &audit)?;
            Ok(after)
        })
        .await
    }

    async fn signal_counts(&self) -> Result<Vec<SignalCount>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT kind, status, COUNT(*) FROM signals GROUP BY kind, status \
                 ORDER BY kind, status",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(SignalCount {
                    kind: r.get(0)?,
                    status: r.get(1)?,
                    count: r.get::<_, i64>(2)? as u64,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn propose_registry(&self, now: Timestamp) -> Result<Vec<i64>, StoreError> {
        self.write(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT d.id, d.person_id, d.effective_at, d.evidence, d.rule_version \
                 FROM deregistrations d LEFT JOIN registry_entries r ON r.deregistration_id = d.id \
                 WHERE d.reason = ?1 AND r.id IS NULL ORDER BY d.id",
            )?;
            let due = stmt
                .query_map(params![DeregistrationReason::NoMonitoring.as_str()], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let mut ids = Vec::new();
            for (dereg, person, effective, evidence, rule) in due {
                let evidence: serde_json::Value = serde_json::from_str(&evidence)
                    .map_err(|e| StoreError::Internal(format!("bad evidence: {e}")))?;
                let ev = proposal_evidence(dereg, from_ms(effective)?, evidence, &rule);
                conn.prepare_cached(
                    "INSERT INTO registry_entries (person_id, deregistration_id, proposed_at, \
                     evidence) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![person, dereg, to_ms(now), ev.to_string()])?;
                let id = conn.last_insert_rowid();
                append(
                    conn,
                    &AuditEntry::new(
                        now,
                        "system",
                        "system",
                        "registry.propose",
                        format!("person:{person}"),
                    )
                    .detail(serde_json::json!({"entry": id, "deregistration_id": dereg})),
                )?;
                ids.push(id);
            }
            Ok(ids)
        })
        .await
    }

    async fn registry_entries(
        &self,
        status: Option<RegistryStatus>,
        limit: u32,
    ) -> Result<Vec<RegistryEntry>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {REGISTRY_COLUMNS} FROM {REGISTRY_FROM} \
                 WHERE (?1 IS NULL OR r.status = ?1) ORDER BY r.id DESC LIMIT ?2"
            ))?;
            let rows = stmt
                .query_map(params![status.map(|s| s.code()), i64::from(limit)], |r| {
                    Ok(registry_from_row(r))
                })?;
            let mut out = Vec::new();
            for r in rows {
                out.push(r??);
            }
            Ok(out)
        })
        .await
    }

    async fn registry_entry(&self, id: i64) -> Result<Option<RegistryEntry>, StoreError> {
        self.read(move |conn| load_registry(conn, id)).await
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
        let actor = actor.to_string();
        self.write(move |conn| {
            let entry = load_registry(conn, id)?
                .ok_or(StoreError::Console(ConsoleError::UnknownRegistryEntry))?;
            let to = decided_status(entry.status, decision)?;
            conn.prepare_cached(
                "UPDATE registry_entries SET status = ?2, decided_by = ?3, decided_at = ?4, \
                 decision_reason = ?5 WHERE id = ?1",
            )?
            .execute(params![id, to.code(), actor, to_ms(now), reason])?;
            super::add_event(
                conn,
                entry.person_id,
                now,
                "registry_decision",
                &actor,
                serde_json::json!({"entry": id, "decision": to.code(), "reason": reason}),
            )?;
            append(conn, &audit)?;
            load_registry(conn, id)?.ok_or(StoreError::Console(ConsoleError::UnknownRegistryEntry))
        })
        .await
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
        let actor = actor.to_string();
        self.write(move |conn| {
            let entry = load_registry(conn, id)?
                .ok_or(StoreError::Console(ConsoleError::UnknownRegistryEntry))?;
            if entry.status != RegistryStatus::Included {
                return Err(StoreError::Console(ConsoleError::RegistryState(
                    entry.status,
                )));
            }
            conn.prepare_cached(
                "UPDATE registry_entries SET status = 'removed', removed_by = ?2, \
                 removed_at = ?3, removal_reason = ?4 WHERE id = ?1",
            )?
            .execute(params![id, actor, to_ms(now), reason])?;
            super::add_event(
                conn,
                entry.person_id,
                now,
                "registry_removal",
                &actor,
                serde_json::json!({"entry": id, "reason": reason}),
            )?;
            append(conn, &audit)?;
            load_registry(conn, id)?.ok_or(StoreError::Console(ConsoleError::UnknownRegistryEntry))
        })
        .await
    }

    async fn nearby(
        &self,
        lat: f64,
        lon: f64,
        radius_m: f64,
        limit: u32,
    ) -> Result<Vec<NearbyPerson>, StoreError> {
        self.read(move |conn| {
            // One read transaction: the people chosen and their card
            // numbers and signals describe the same moment.
            let tx = conn.unchecked_transaction()?;
            let mut near = near_positions(&tx, lat, lon, radius_m)?;
            // Nearest first; people at the very same distance by id, so the
            // cut at `limit` does not depend on the index's order.
            near.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            near.truncate(limit as usize);
            let out = with_cards_and_signals(&tx, &near)?;
            tx.commit()?;
            Ok(out)
        })
        .await
    }
}
