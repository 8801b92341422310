//! [`AuditStore`] on PostgreSQL. Several processes append at once, so an
//! append first takes a transaction-level advisory lock: reading the last
//! record and inserting the next are then one step for the whole cluster,
//! ids stay gapless and every row links to its predecessor. The lock is
//! held to commit, which is what the chain needs (a later record must not
//! commit before the one it links to).

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::{db_error, execute, get, query, query_opt, ts, PostgresStore};
use crate::audit::seal;
use crate::time::to_system;
use crate::*;

/// Advisory lock key for audit appends ("audit" in ASCII).
const AUDIT_LOCK_KEY: i64 = 0x61_75_64_69_74;

const COLUMNS: &str =
    "id, at, actor, role, action, subject, case_id, legal_basis, detail, prev_hash, hash";

fn record_from_row(r: &Row) -> Result<AuditRecord, StoreError> {
    Ok(AuditRecord {
        id: get(r, 0)?,
        at: ts(r, 1)?,
        actor: get(r, 2)?,
        role: get(r, 3)?,
        action: get(r, 4)?,
        subject: get(r, 5)?,
        case_id: get(r, 6)?,
        legal_basis: get(r, 7)?,
        detail: get(r, 8)?,
        prev_hash: get(r, 9)?,
        hash: get(r, 10)?,
    })
}

/// Append `entry` inside the caller's transaction.
pub(super) async fn append<C: GenericClient>(
    tx: &C,
    entry: &AuditEntry,
) -> Result<AuditRecord, StoreError> {
    execute(tx, "SELECT pg_advisory_xact_lock($1)", &[&AUDIT_LOCK_KEY]).await?;
    let last = query_opt(
        tx,
        "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1",
        &[],
    )
    .await?
    .map(|r| Ok::<_, StoreError>((get::<i64>(&r, 0)?, get::<String>(&r, 1)?)))
    .transpose()?;
    let rec = seal(entry, last);
    execute(
        tx,
        "INSERT INTO audit_log (id, at, actor, role, action, subject, case_id, legal_basis, \
         detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        &[
            &rec.id,
            &to_system(rec.at),
            &rec.actor,
            &rec.role,
            &rec.action,
            &rec.subject,
            &rec.case_id,
            &rec.legal_basis,
            &rec.detail,
            &rec.prev_hash,
            &rec.hash,
        ],
    )
    .await?;
    Ok(rec)
}

#[async_trait]
impl AuditStore for PostgresStore {
    async fn append_audit(&self, entry: AuditEntry) -> Result<AuditRecord, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let rec = append(&tx, &entry).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(rec)
    }

    async fn audit_records(&self, q: AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        let from = q.from.map(to_system);
        let to = q.to.map(to_system);
        let limit = i64::from(q.limit);
        let mut sql = format!("SELECT {COLUMNS} FROM audit_log WHERE true");
        let mut args: Vec<&(dyn ToSql + Sync)> = Vec::new();
        if let Some(a) = &q.actor {
            args.push(a);
            sql.push_str(&format!(" AND actor = ${}", args.len()));
        }
        if let Some(a) = &q.action {
            args.push(a);
            if a.ends_with('.') {
                sql.push_str(&format!(" AND starts_with(action, ${})", args.len()));
            } else {
                sql.push_str(&format!(" AND action = ${}", args.len()));
            }
        }
        if let Some(s) = &q.subject {
            args.push(s);
            sql.push_str(&format!(" AND subject = ${}", args.len()));
        }
        if let Some(c) = &q.case_id {
            args.push(c);
            sql.push_str(&format!(" AND case_id = ${}", args.len()));
        }
        if let Some(t) = &from {
            args.push(t);
            sql.push_str(&format!(" AND at >= ${}", args.len()));
        }
        if let Some(t) = &to {
            args.push(t);
            sql.push_str(&format!(" AND at < ${}", args.len()));
        }
        if let Some(b) = &q.before_id {
            args.push(b);
            sql.push_str(&format!(" AND id < ${}", args.len()));
        }
        args.push(&limit);
        sql.push_str(&format!(" ORDER BY id DESC LIMIT ${}", args.len()));
        let client = self.client().await?;
        query(&client, &sql, &args)
            .await?
            .iter()
            .map(record_from_row)
            .collect()
    }

    async fn audit_chain(&self, from_id: i64, limit: u32) -> Result<Vec<AuditRecord>, StoreError> {
        let client = self.client().await?;
        query(
            &client,
            &format!("SELECT {COLUMNS} FROM audit_log WHERE id >= $1 ORDER BY id LIMIT $2"),
            &[&from_id, &i64::from(limit)],
        )
        .await?
        .iter()
        .map(record_from_row)
        .collect()
    }
}
