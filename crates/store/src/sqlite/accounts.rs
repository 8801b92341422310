//! [`AccountAdminStore`] on SQLite.

use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::{params, OptionalExtension};

use super::audit::append;
use super::console::{account_from_row, load_account, ACCOUNT_COLUMNS};
use super::SqliteStore;
use crate::time::to_ms;
use crate::*;

#[async_trait]
impl AccountAdminStore for SqliteStore {
    async fn accounts(&self) -> Result<Vec<AccountRecord>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {ACCOUNT_COLUMNS} FROM console_accounts ORDER BY name"
            ))?;
            let rows = stmt.query_map([], |r| Ok(account_from_row(r)))?;
            let mut out = Vec::new();
            for r in rows {
                out.push(r??);
            }
            Ok(out)
        })
        .await
    }

    async fn account(&self, id: i64) -> Result<Option<AccountRecord>, StoreError> {
        self.read(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {ACCOUNT_COLUMNS} FROM console_accounts WHERE id = ?1"
            ))?
            .query_row(params![id], |r| Ok(account_from_row(r)))
            .optional()?
            .transpose()
        })
        .await
    }

    async fn set_account_disabled(
        &self,
        id: i64,
        disabled: bool,
        now: Timestamp,
        audit: AuditEntry,
    ) -> Result<AccountRecord, StoreError> {
        self.write(move |conn| {
            let a = load_account(conn, id)?;
            if a.name == audit.actor {
                return Err(StoreError::Console(ConsoleError::OwnAccount));
            }
            conn.prepare_cached("UPDATE console_accounts SET disabled_at = ?2 WHERE id = ?1")?
                .execute(params![id, disabled.then(|| to_ms(now))])?;
            if disabled {
                conn.prepare_cached(
                    "UPDATE console_sessions SET ended_at = ?2 \
                     WHERE account_id = ?1 AND ended_at IS NULL",
                )?
                .execute(params![id, to_ms(now)])?;
            }
            append(conn, &audit)?;
            load_account(conn, id)
        })
        .await
    }

    async fn reset_totp(
        &self,
        id: i64,
        secret_b32: &str,
        now: Timestamp,
        audit: AuditEntry,
    ) -> Result<AccountRecord, StoreError> {
        let secret = secret_b32.to_string();
        self.write(move |conn| {
            let a = load_account(conn, id)?;
            if a.name == audit.actor {
                return Err(StoreError::Console(ConsoleError::OwnAccount));
            }
            conn.prepare_cached(
                "UPDATE console_accounts SET totp_secret = ?2, totp_last_step = 0, \
                 failed_attempts = 0, locked_until = NULL WHERE id = ?1",
            )?
            .execute(params![id, secret])?;
            conn.prepare_cached(
                "UPDATE console_sessions SET ended_at = ?2 \
                 WHERE account_id = ?1 AND ended_at IS NULL",
            )?
            .execute(params![id, to_ms(now)])?;
            append(conn, &audit)?;
            load_account(conn, id)
        })
        .await
    }
}
