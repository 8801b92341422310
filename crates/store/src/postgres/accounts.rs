//! [`AccountAdminStore`] on PostgreSQL: the account row is locked for each
//! change, written with its audit record in one transaction.

use async_trait::async_trait;
use jiff::Timestamp;

use super::audit::append;
use super::console::{account_from_row, load_account, ACCOUNT_COLUMNS};
use super::{db_error, execute, query, query_opt, PostgresStore};
use crate::time::to_system;
use crate::*;

#[async_trait]
impl AccountAdminStore for PostgresStore {
    async fn accounts(&self) -> Result<Vec<AccountRecord>, StoreError> {
        let client = self.client().await?;
        query(
            &client,
            &format!("SELECT {ACCOUNT_COLUMNS} FROM console_accounts ORDER BY name"),
            &[],
        )
        .await?
        .iter()
        .map(account_from_row)
        .collect()
    }

    async fn account(&self, id: i64) -> Result<Option<AccountRecord>, StoreError> {
        let client = self.client().await?;
        query_opt(
            &client,
            &format!("SELECT {ACCOUNT_COLUMNS} FROM console_accounts WHERE id = $1"),
            &[&id],
        )
        .await?
        .map(|r| account_from_row(&r))
        .transpose()
    }

    async fn set_account_disabled(
        &self,
        id: i64,
        disabled: bool,
        now: Timestamp,
        audit: AuditEntry,
    ) -> Result<AccountRecord, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let a = load_account(&tx, id, true).await?;
        if a.name == audit.actor {
            return Err(StoreError::Console(ConsoleError::OwnAccount));
        }
        let at = disabled.then(|| to_system(now));
        execute(
            &tx,
            "UPDATE console_accounts SET disabled_at = $2 WHERE id = $1",
            &[&id, &at],
        )
        .await?;
        if disabled {
            execute(
                &tx,
                "UPDATE console_sessions SET ended_at = $2 \
                 WHERE account_id = $1 AND ended_at IS NULL",
                &[&id, &to_system(now)],
            )
            .await?;
        }
        append(&tx, &audit).await?;
        let a = load_account(&tx, id, false).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(a)
    }

    async fn reset_totp(
        &self,
        id: i64,
        secret_b32: &str,
        now: Timestamp,
        audit: AuditEntry,
    ) -> Result<AccountRecord, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let a = load_account(&tx, id, true).await?;
        if a.name == audit.actor {
            return Err(StoreError::Console(ConsoleError::OwnAccount));
        }
        execute(
            &tx,
            "UPDATE console_accounts SET totp_secret = $2, totp_last_step = 0, \
             failed_attempts = 0, locked_until = NULL WHERE id = $1",
            &[&id, &secret_b32],
        )
        .await?;
        execute(
            &tx,
            "UPDATE console_sessions SET ended_at = $2 \
             WHERE account_id = $1 AND ended_at IS NULL",
            &[&id, &to_system(now)],
        )
        .await?;
        append(&tx, &audit).await?;
        let a = load_account(&tx, id, false).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(a)
    }
}
