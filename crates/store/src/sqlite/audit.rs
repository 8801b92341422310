//! [`AuditStore`] on SQLite. Appends run on the single writer thread, so
//! reading the last record and inserting the next cannot interleave.

use async_trait::async_trait;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};

use super::SqliteStore;
use crate::audit::seal;
use crate::time::{from_ms, to_ms};
use crate::*;

const COLUMNS: &str =
    "id, at, actor, role, action, subject, case_id, legal_basis, detail, prev_hash, hash";

fn record_from_row(r: &Row<'_>) -> Result<AuditRecord, StoreError> {
    Ok(AuditRecord {
        id: r.get(0)?,
        at: from_ms(r.get(1)?)?,
        actor: r.get(2)?,
        role: r.get(3)?,
        action: r.get(4)?,
        subject: r.get(5)?,
        case_id: r.get(6)?,
        legal_basis: r.get(7)?,
        detail: r.get(8)?,
        prev_hash: r.get(9)?,
        hash: r.get(10)?,
    })
}

/// Append `entry` inside the caller's transaction.
pub(super) fn append(conn: &Connection, entry: &AuditEntry) -> Result<AuditRecord, StoreError> {
    let last: Option<(i64, String)> = conn
        .prepare_cached("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let rec = seal(entry, last);
    conn.prepare_cached(
        "INSERT INTO audit_log (id, at, actor, role, action, subject, case_id, legal_basis, \
         detail, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        rec.id,
        to_ms(rec.at),
        rec.actor,
        rec.role,
        rec.action,
        rec.subject,
        rec.case_id,
        rec.legal_basis,
        rec.detail,
        rec.prev_hash,
        rec.hash
    ])?;
    Ok(rec)
}

#[async_trait]
impl AuditStore for SqliteStore {
    async fn append_audit(&self, entry: AuditEntry) -> Result<AuditRecord, StoreError> {
        self.write(move |conn| append(conn, &entry)).await
    }

    async fn audit_records(&self, q: AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        self.read(move |conn| {
            let mut sql = format!("SELECT {COLUMNS} FROM audit_log WHERE 1 = 1");
            let mut args: Vec<rusqlite::types::Value> = Vec::new();
            // `cond` names its parameter as `{}`.
            let mut add = |cond: &str, v: rusqlite::types::Value, sql: &mut String| {
                args.push(v);
                let n = format!("?{}", args.len());
                sql.push_str(&format!(" AND {}", cond.replace("{}", &n)));
            };
            if let Some(a) = &q.actor {
                add("actor = {}", a.clone().into(), &mut sql);
            }
            if let Some(a) = &q.action {
                if a.ends_with('.') {
                    add(
                        "substr(action, 1, length({})) = {}",
                        a.clone().into(),
                        &mut sql,
                    );
                } else {
                    add("action = {}", a.clone().into(), &mut sql);
                }
            }
            if let Some(s) = &q.subject {
                add("subject = {}", s.clone().into(), &mut sql);
            }
            if let Some(c) = q.case_id {
                add("case_id = {}", c.into(), &mut sql);
            }
            if let Some(t) = q.from {
                add("at >= {}", to_ms(t).into(), &mut sql);
            }
            if let Some(t) = q.to {
                add("at < {}", to_ms(t).into(), &mut sql);
            }
            if let Some(b) = q.before_id {
                add("id < {}", b.into(), &mut sql);
            }
            args.push(i64::from(q.limit).into());
            sql.push_str(&format!(" ORDER BY id DESC LIMIT ?{}", args.len()));
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(params_from_iter(args), |r| Ok(record_from_row(r)))?;
            let mut out = Vec::new();
            for r in rows {
                out.push(r??);
            }
            Ok(out)
        })
        .await
    }

    async fn audit_chain(&self, from_id: i64, limit: u32) -> Result<Vec<AuditRecord>, StoreError> {
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM audit_log WHERE id >= ?1 ORDER BY id LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![from_id, i64::from(limit)], |r| {
                Ok(record_from_row(r))
            })?;
            let mut out = Vec::new();
            for r in rows {
                out.push(r??);
            }
            Ok(out)
        })
        .await
    }
}
