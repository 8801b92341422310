//! [`SpotCheckStore`] on PostgreSQL. Uses and outcomes lock the spot check
//! row (`FOR UPDATE`) and write their audit record in the same transaction.

use amina_domain::console::{CaseTerms, SpotCheckOutcome};
use amina_domain::monitor::{DeregistrationReason, RegistrationStatus};
use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use jiff::Timestamp;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::audit::append;
use super::{db_error, execute, get, opt_ts, query, query_one, query_opt, ts, PostgresStore};
use crate::spotcheck::{area_from_columns, check_spot_use, parse_outcome};
use crate::time::to_system;
use crate::*;

const COLUMNS: &str = "id, opened_by, opened_at, legal_basis, purpose, expires_at, closed_at, \
     district, lat, lon, radius_m";

fn check_from_row(r: &Row) -> Result<SpotCheckRecord, StoreError> {
    Ok(SpotCheckRecord {
        id: get(r, 0)?,
        opened_by: get(r, 1)?,
        opened_at: ts(r, 2)?,
        legal_basis: get(r, 3)?,
        purpose: get(r, 4)?,
        expires_at: ts(r, 5)?,
        closed_at: opt_ts(r, 6)?,
        area: area_from_columns(get(r, 7)?, get(r, 8)?, get(r, 9)?, get(r, 10)?)?,
    })
}

async fn load<C: GenericClient>(c: &C, id: i64, lock: bool) -> Result<SpotCheckRecord, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM spot_checks WHERE id = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    let row = query_opt(c, &sql, &[&id])
        .await?
        .ok_or(StoreError::Console(ConsoleError::UnknownSpotCheck))?;
    check_from_row(&row)
}

fn outcome_from_row(r: &Row) -> Result<SpotOutcomeRecord, StoreError> {
    Ok(SpotOutcomeRecord {
        spot_check_id: get(r, 0)?,
        person_id: get(r, 1)?,
        outcome: parse_outcome(get(r, 2)?)?,
        note: get(r, 3)?,
        recorded_at: ts(r, 4)?,
        recorded_by: get(r, 5)?,
    })
}

/// `$1` is now, `$2` the no-monitoring reason.
const OVERDUE: &str = "((p.status = 'registered' AND p.deadline_at < $1) OR \
     (p.status = 'deregistered' AND EXISTS (SELECT 1 FROM deregistrations d \
     WHERE d.registration_id = p.registration_id AND d.reason = $2)))";

fn candidate_sql() -> String {
    format!(
        "SELECT p.id, c.number, c.name_latin, c.name_cyrillic, p.status, p.deadline_at, a.id, \
         a.street || ' ' || a.house || COALESCE(', ' || a.flat, ''), a.municipality, \
         {OVERDUE} FROM persons p JOIN cards c ON c.number = p.card_number \
         LEFT JOIN stay_notices n ON n.person_id = p.id AND n.registration_id = p.registration_id \
         AND n.superseded_at IS NULL \
         LEFT JOIN addresses a ON a.id = n.address_id \
         WHERE (EXISTS (SELECT 1 FROM signals s WHERE s.person_id = p.id \
         AND s.status IN ('open', 'in_review')) OR EXISTS (SELECT 1 FROM signals s \
         WHERE s.address_id = a.id AND s.status IN ('open', 'in_review')) OR {OVERDUE})"
    )
}

fn candidate_from_row(r: &Row) -> Result<SpotCandidate, StoreError> {
    let status: String = get(r, 4)?;
    Ok(SpotCandidate {
        person_id: get(r, 0)?,
        card_number: get(r, 1)?,
        name_latin: get(r, 2)?,
        name_cyrillic: get(r, 3)?,
        status: RegistrationStatus::parse(&status)
            .ok_or_else(|| StoreError::Internal(format!("bad status {status}")))?,
        deadline_at: ts(r, 5)?,
        address_id: get(r, 6)?,
        address: get(r, 7)?,
        district: get(r, 8)?,
        overdue: get(r, 9)?,
        distance_m: None,
    })
}

#[async_trait]
impl SpotCheckStore for PostgresStore {
    async fn open_spot_check(
        &self,
        opened_by: &str,
        terms: CaseTerms,
        area: SpotArea,
        audit: AuditEntry,
    ) -> Result<SpotCheckRecord, StoreError> {
        let (district, lat, lon, radius) = match &area {
            SpotArea::District { district } => (Some(district.clone()), None, None, None),
            SpotArea::Point { lat, lon, radius_m } => {
                (None, Some(*lat), Some(*lon), Some(*radius_m))
            }
        };
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let row = query_one(
            &tx,
            "INSERT INTO spot_checks (opened_by, opened_at, legal_basis, purpose, expires_at, \
             district, lat, lon, radius_m) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             RETURNING id",
            &[
                &opened_by,
                &to_system(terms.opened_at),
                &terms.legal_basis,
                &terms.purpose,
                &to_system(terms.expires_at),
                &district,
                &lat,
                &lon,
                &radius,
            ],
        )
        .await?;
        let id: i64 = get(&row, 0)?;
        let mut audit = audit;
        audit.subject = format!("spot_check:{id}");
        audit.legal_basis = Some(terms.legal_basis.clone());
        append(&tx, &audit).await?;
        let check = load(&tx, id, false).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(check)
    }

    async fn spot_check(&self, id: i64) -> Result<Option<SpotCheckRecord>, StoreError> {
        let client = self.client().await?;
        match load(&client, id, false).await {
            Ok(c) => Ok(Some(c)),
            Err(StoreError::Console(ConsoleError::UnknownSpotCheck)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn spot_checks_by(
        &self,
        officer: &str,
        limit: u32,
    ) -> Result<Vec<SpotCheckRecord>, StoreError> {
        let client = self.client().await?;
        query(
            &client,
            &format!(
                "SELECT {COLUMNS} FROM spot_checks WHERE opened_by = $1 ORDER BY id DESC LIMIT $2"
            ),
            &[&officer, &i64::from(limit)],
        )
        .await?
        .iter()
        .map(check_from_row)
        .collect()
    }

    async fn use_spot_check(
        &self,
        id: i64,
        actor: &str,
        now: Timestamp,
        audit: AuditEntry,
    ) -> Result<SpotCheckRecord, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let check = load(&tx, id, true).await?;
        check_spot_use(&check, actor, now)?;
        let mut audit = audit;
        audit.legal_basis = Some(check.legal_basis.clone());
        append(&tx, &audit).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(check)
    }

    async fn spot_candidates(
        &self,
        area: &SpotArea,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<SpotCandidate>, StoreError> {
        let now_s = to_system(now);
        let reason = DeregistrationReason::NoMonitoring.as_str().to_string();
        let limit = i64::from(limit);
        let client = self.client().await?;
        let mut sql = candidate_sql();
        match area {
            SpotArea::District { district } => {
                sql.push_str(" AND a.municipality = $3 ORDER BY c.name_latin, p.id LIMIT $4");
                let args: [&(dyn ToSql + Sync); 4] = [&now_s, &reason, district, &limit];
                query(&client, &sql, &args)
                    .await?
                    .iter()
                    .map(candidate_from_row)
                    .collect()
            }
            SpotArea::Point { lat, lon, radius_m } => {
                drop(client);
                let near = self.nearby(*lat, *lon, *radius_m, 5000).await?;
                if near.is_empty() {
                    return Ok(Vec::new());
                }
                let ids: Vec<i64> = near.iter().map(|n| n.person_id).collect();
                sql.push_str(" AND p.id = ANY($3) LIMIT $4");
                let client = self.client().await?;
                let args: [&(dyn ToSql + Sync); 4] = [&now_s, &reason, &ids, &limit];
                let mut out: Vec<SpotCandidate> = query(&client, &sql, &args)
                    .await?
                    .iter()
                    .map(candidate_from_row)
                    .collect::<Result<_, _>>()?;
                for c in &mut out {
                    c.distance_m = near
                        .iter()
                        .find(|n| n.person_id == c.person_id)
                        .map(|n| n.distance_m);
                }
                out.sort_by(|a, b| {
                    a.distance_m
                        .unwrap_or(f64::MAX)
                        .total_cmp(&b.distance_m.unwrap_or(f64::MAX))
                });
                Ok(out)
            }
        }
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
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let check = load(&tx, id, true).await?;
        check_spot_use(&check, actor, now)?;
        if query_opt(&tx, "SELECT 1 FROM persons WHERE id = $1", &[&person_id])
            .await?
            .is_none()
        {
            return Err(StoreError::UnknownPerson);
        }
        let n = execute(
            &tx,
            "INSERT INTO spot_check_outcomes (spot_check_id, person_id, outcome, note, \
             recorded_at, recorded_by) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (spot_check_id, person_id) DO NOTHING",
            &[
                &id,
                &person_id,
                &outcome.code(),
                &note,
                &to_system(now),
                &actor,
            ],
        )
        .await?;
        if n == 0 {
            return Err(StoreError::Console(ConsoleError::OutcomeRecorded));
        }
        let mut audit = audit;
        audit.legal_basis = Some(check.legal_basis.clone());
        append(&tx, &audit).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(SpotOutcomeRecord {
            spot_check_id: id,
            person_id,
            outcome,
            note,
            recorded_at: now,
            recorded_by: actor.to_string(),
        })
    }

    async fn spot_outcomes(&self, id: i64) -> Result<Vec<SpotOutcomeRecord>, StoreError> {
        let client = self.client().await?;
        query(
            &client,
            "SELECT spot_check_id, person_id, outcome, note, recorded_at, recorded_by \
             FROM spot_check_outcomes WHERE spot_check_id = $1 ORDER BY recorded_at, person_id",
            &[&id],
        )
        .await?
        .iter()
        .map(outcome_from_row)
        .collect()
    }

    async fn close_spot_check(
        &self,
        id: i64,
        actor: &str,
        now: Timestamp,
        audit: AuditEntry,
    ) -> Result<SpotCheckRecord, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let check = load(&tx, id, true).await?;
        if check.opened_by != actor {
            return Err(StoreError::Console(ConsoleError::NotCaseOwner));
        }
        if check.closed_at.is_some() {
            return Err(StoreError::Console(ConsoleError::CaseClosed));
        }
        execute(
            &tx,
            "UPDATE spot_checks SET closed_at = $2 WHERE id = $1",
            &[&id, &to_system(now)],
        )
        .await?;
        let mut audit = audit;
        audit.legal_basis = Some(check.legal_basis.clone());
        append(&tx, &audit).await?;
        let check = load(&tx, id, false).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(check)
    }

    async fn districts(&self) -> Result<Vec<String>, StoreError> {
        let client = self.client().await?;
        query(
            &client,
            "SELECT DISTINCT municipality FROM addresses ORDER BY 1",
            &[],
        )
        .await?
        .iter()
        .map(|r| get(r, 0))
        .collect()
    }

    async fn signal_counts_by_district(&self) -> Result<Vec<DistrictCount>, StoreError> {
        let client = self.client().await?;
        query(
            &client,
            &format!(
                "SELECT COALESCE({}, ad.municipality) AS district, s.status, COUNT(*) \
                 FROM signals s LEFT JOIN persons p ON p.id = s.person_id \
                 LEFT JOIN addresses ad ON ad.id = s.address_id \
                 GROUP BY 1, 2 ORDER BY 1, 2",
                crate::spotcheck::PERSON_DISTRICT
            ),
            &[],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(DistrictCount {
                district: get(r, 0)?,
                status: get(r, 1)?,
                count: get::<i64>(r, 2)? as u64,
            })
        })
        .collect()
    }
}
