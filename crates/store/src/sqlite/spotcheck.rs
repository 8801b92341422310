//! [`SpotCheckStore`] on SQLite.

use amina_domain::console::{CaseTerms, SpotCheckOutcome};
use amina_domain::monitor::{DeregistrationReason, RegistrationStatus};
use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};

use super::audit::append;
use super::{opt_ms, SqliteStore};
use crate::spotcheck::{area_from_columns, check_spot_use, parse_outcome};
use crate::time::{from_ms, to_ms};
use crate::*;

const COLUMNS: &str = "id, opened_by, opened_at, legal_basis, purpose, expires_at, closed_at, \
     district, lat, lon, radius_m";

fn check_from_row(r: &Row<'_>) -> Result<SpotCheckRecord, StoreError> {
    Ok(SpotCheckRecord {
        id: r.get(0)?,
        opened_by: r.get(1)?,
        opened_at: from_ms(r.get(2)?)?,
        legal_basis: r.get(3)?,
        purpose: r.get(4)?,
        expires_at: from_ms(r.get(5)?)?,
        closed_at: opt_ms(r.get(6)?)?,
        area: area_from_columns(r.get(7)?, r.get(8)?, r.get(9)?, r.get(10)?)?,
    })
}

fn load(conn: &Connection, id: i64) -> Result<Option<SpotCheckRecord>, StoreError> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM spot_checks WHERE id = ?1"))?
        .query_row(params![id], |r| Ok(check_from_row(r)))
        .optional()?
        .transpose()
}

fn load_known(conn: &Connection, id: i64) -> Result<SpotCheckRecord, StoreError> {
    load(conn, id)?.ok_or(StoreError::Console(ConsoleError::UnknownSpotCheck))
}

fn outcome_from_row(r: &Row<'_>) -> Result<SpotOutcomeRecord, StoreError> {
    Ok(SpotOutcomeRecord {
        spot_check_id: r.get(0)?,
        person_id: r.get(1)?,
        outcome: parse_outcome(&r.get::<_, String>(2)?)?,
        note: r.get(3)?,
        recorded_at: from_ms(r.get(4)?)?,
        recorded_by: r.get(5)?,
    })
}

/// The candidates' columns and the "of interest" condition; `?1` is now.
const CANDIDATE_SELECT: &str = "SELECT p.id, c.number, c.name_latin, c.name_cyrillic, p.status, \
     p.deadline_at, a.id, a.street || ' ' || a.house || COALESCE(', ' || a.flat, ''), \
     a.municipality, \
     (p.status = 'registered' AND p.deadline_at < ?1) OR (p.status = 'deregistered' AND \
      EXISTS (SELECT 1 FROM deregistrations d WHERE d.registration_id = p.registration_id \
      AND d.reason = ?2)) AS overdue \
     FROM persons p JOIN cards c ON c.number = p.card_number \
     LEFT JOIN stay_notices n ON n.person_id = p.id AND n.registration_id = p.registration_id \
     AND n.superseded_at IS NULL \
     LEFT JOIN addresses a ON a.id = n.address_id";
const OF_INTEREST: &str = "(EXISTS (SELECT 1 FROM signals s WHERE s.person_id = p.id \
     AND s.status IN ('open', 'in_review')) OR EXISTS (SELECT 1 FROM signals s \
     WHERE s.address_id = a.id AND s.status IN ('open', 'in_review')) OR overdue)";

fn candidate_from_row(r: &Row<'_>) -> Result<SpotCandidate, StoreError> {
    let status: String = r.get(4)?;
    Ok(SpotCandidate {
        person_id: r.get(0)?,
        card_number: r.get(1)?,
        name_latin: r.get(2)?,
        name_cyrillic: r.get(3)?,
        status: RegistrationStatus::parse(&status)
            .ok_or_else(|| StoreError::Internal(format!("bad status {status}")))?,
        deadline_at: from_ms(r.get(5)?)?,
        address_id: r.get(6)?,
        address: r.get(7)?,
        district: r.get(8)?,
        overdue: r.get(9)?,
        distance_m: None,
    })
}

#[async_trait]
impl SpotCheckStore for SqliteStore {
    async fn open_spot_check(
        &self,
        opened_by: &str,
        terms: CaseTerms,
        area: SpotArea,
        audit: AuditEntry,
    ) -> Result<SpotCheckRecord, StoreError> {
        let opened_by = opened_by.to_string();
        self.write(move |conn| {
            let (district, lat, lon, radius) = match &area {
                SpotArea::District { district } => (Some(district.clone()), None, None, None),
                SpotArea::Point { lat, lon, radius_m } => {
                    (None, Some(*lat), Some(*lon), Some(*radius_m))
                }
            };
            conn.prepare_cached(
                "INSERT INTO spot_checks (opened_by, opened_at, legal_basis, purpose, \
                 expires_at, district, lat, lon, radius_m) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                opened_by,
                to_ms(terms.opened_at),
                terms.legal_basis,
                terms.purpose,
                to_ms(terms.expires_at),
                district,
                lat,
                lon,
                radius
            ])?;
            let id = conn.last_insert_rowid();
            let mut audit = audit;
            audit.subject = format!("spot_check:{id}");
            audit.legal_basis = Some(terms.legal_basis.clone());
            append(conn, &audit)?;
            load_known(conn, id)
        })
        .await
    }

    async fn spot_check(&self, id: i64) -> Result<Option<SpotCheckRecord>, StoreError> {
        self.read(move |conn| load(conn, id)).await
    }

    async fn spot_checks_by(
        &self,
        officer: &str,
        limit: u32,
    ) -> Result<Vec<SpotCheckRecord>, StoreError> {
        let officer = officer.to_string();
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM spot_checks WHERE opened_by = ?1 ORDER BY id DESC LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![officer, i64::from(limit)], |r| {
                Ok(check_from_row(r))
            })?;
            let mut out = Vec::new();
            for r in rows {
                out.push(r??);
            }
            Ok(out)
        })
        .await
    }

    async fn use_spot_check(
        &self,
        id: i64,
        actor: &str,
        now: Timestamp,
        audit: AuditEntry,
    ) -> Result<SpotCheckRecord, StoreError> {
        let actor = actor.to_string();
        self.write(move |conn| {
            let check = load_known(conn, id)?;
            check_spot_use(&check, &actor, now)?;
            let mut audit = audit;
            audit.legal_basis = Some(check.legal_basis.clone());
            append(conn, &audit)?;
            Ok(check)
        })
        .await
    }

    async fn spot_candidates(
        &self,
        area: &SpotArea,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<SpotCandidate>, StoreError> {
        let near: Option<Vec<NearbyPerson>> = match area {
            SpotArea::Point { lat, lon, radius_m } => {
                Some(self.nearby(*lat, *lon, *radius_m, 5000).await?)
            }
            SpotArea::District { .. } => None,
        };
        let area = area.clone();
        self.read(move |conn| {
            let mut args: Vec<rusqlite::types::Value> = vec![
                to_ms(now).into(),
                DeregistrationReason::NoMonitoring
                    .as_str()
                    .to_string()
                    .into(),
            ];
            let mut sql = format!("{CANDIDATE_SELECT} WHERE {OF_INTEREST}");
            match (&area, &near) {
                (SpotArea::District { district }, _) => {
                    args.push(district.clone().into());
                    sql.push_str(&format!(" AND a.municipality = ?{}", args.len()));
                }
                (SpotArea::Point { .. }, Some(near)) => {
                    if near.is_empty() {
                        return Ok(Vec::new());
                    }
                    let mut marks = Vec::new();
                    for p in near {
                        args.push(p.person_id.into());
                        marks.push(format!("?{}", args.len()));
                    }
                    sql.push_str(&format!(" AND p.id IN ({})", marks.join(", ")));
                }
                (SpotArea::Point { .. }, None) => return Ok(Vec::new()),
            }
            args.push(i64::from(limit).into());
            sql.push_str(&format!(
                " ORDER BY c.name_latin, p.id LIMIT ?{}",
                args.len()
            ));
            let mut stmt = conn.prepare(&sql)?;
            let rows = stmt.query_map(params_from_iter(args), |r| Ok(candidate_from_row(r)))?;
            let mut out = Vec::new();
            for r in rows {
                let mut c = r??;
                if let Some(near) = &near {
                    c.distance_m = near
                        .iter()
                        .find(|n| n.person_id == c.person_id)
                        .map(|n| n.distance_m);
                }
                out.push(c);
            }
            if near.is_some() {
                out.sort_by(|a, b| {
                    a.distance_m
                        .unwrap_or(f64::MAX)
                        .total_cmp(&b.distance_m.unwrap_or(f64::MAX))
                });
            }
            Ok(out)
        })
        .await
    }

    #[allow(clippy::too_many_arguments)] // the outcome, its audit record and who and when
    async fn record_spot_outcome(
        &self,
        id: i64,
        person_id: i64,
        outcome: SpotCheckOutcome,
        note: Option<String>,
        actor: &str,
        now: Timestamp,
        audit: AuditEntry,
    ) -> Result<SpotOutcomeRecord, StoreError> {
        let actor = actor.to_string();
        self.write(move |conn| {
            let check = load_known(conn, id)?;
            check_spot_use(&check, &actor, now)?;
            let exists = conn
                .prepare_cached("SELECT 1 FROM persons WHERE id = ?1")?
                .exists(params![person_id])?;
            if !exists {
                return Err(StoreError::UnknownPerson);
            }
            let n = conn
                .prepare_cached(
                    "INSERT INTO spot_check_outcomes (spot_check_id, person_id, outcome, note, \
                     recorded_at, recorded_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                     ON CONFLICT (spot_check_id, person_id) DO NOTHING",
                )?
                .execute(params![
                    id,
                    person_id,
                    outcome.code(),
                    note,
                    to_ms(now),
                    actor
                ])?;
            if n == 0 {
                return Err(StoreError::Console(ConsoleError::OutcomeRecorded));
            }
            let mut audit = audit;
            audit.legal_basis = Some(check.legal_basis.clone());
            append(conn, &audit)?;
            Ok(SpotOutcomeRecord {
                spot_check_id: id,
                person_id,
                outcome,
                note,
                recorded_at: now,
                recorded_by: actor,
            })
        })
        .await
    }

    async fn spot_outcomes(&self, id: i64) -> Result<Vec<SpotOutcomeRecord>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT spot_check_id, person_id, outcome, note, recorded_at, recorded_by \
                 FROM spot_check_outcomes WHERE spot_check_id = ?1 ORDER BY recorded_at, person_id",
            )?;
            let rows = stmt.query_map(params![id], |r| Ok(outcome_from_row(r)))?;
            let mut out = Vec::new();
            for r in rows {
                out.push(r??);
            }
            Ok(out)
        })
        .await
    }

    async fn close_spot_check(
        &self,
        id: i64,
        actor: &str,
        now: Timestamp,
        audit: AuditEntry,
    ) -> Result<SpotCheckRecord, StoreError> {
        let actor = actor.to_string();
        self.write(move |conn| {
            let check = load_known(conn, id)?;
            if check.opened_by != actor {
                return Err(StoreError::Console(ConsoleError::NotCaseOwner));
            }
            if check.closed_at.is_some() {
                return Err(StoreError::Console(ConsoleError::CaseClosed));
            }
            conn.prepare_cached("UPDATE spot_checks SET closed_at = ?2 WHERE id = ?1")?
                .execute(params![id, to_ms(now)])?;
            let mut audit = audit;
            audit.legal_basis = Some(check.legal_basis.clone());
            append(conn, &audit)?;
            load_known(conn, id)
        })
        .await
    }

    async fn districts(&self) -> Result<Vec<String>, StoreError> {
        self.read(|conn| {
            let mut stmt =
                conn.prepare_cached("SELECT DISTINCT municipality FROM addresses ORDER BY 1")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn signal_counts_by_district(&self) -> Result<Vec<DistrictCount>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT COALESCE({}, ad.municipality) AS district, s.status, COUNT(*) \
                 FROM signals s LEFT JOIN persons p ON p.id = s.person_id \
                 LEFT JOIN addresses ad ON ad.id = s.address_id \
                 GROUP BY 1, 2 ORDER BY 1, 2",
                crate::spotcheck::PERSON_DISTRICT
            ))?;
            let rows = stmt.query_map([], |r| {
                Ok(DistrictCount {
                    district: r.get(0)?,
                    status: r.get(1)?,
                    count: r.get::<_, i64>(2)? as u64,
                })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }
}
