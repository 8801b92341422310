//! Account administration for the console's admins: list, disable or
//! enable, and replace a TOTP secret. Each change is written with its audit
//! record in one transaction; disabling or resetting ends the account's
//! sessions at once. Admins see accounts, never personal data.

use async_trait::async_trait;
use jiff::Timestamp;

use crate::{AccountRecord, AuditEntry, StoreError};

#[async_trait]
pub trait AccountAdminStore: Send + Sync + 'static {
    /// Every account, by name.
    async fn accounts(&self) -> Result<Vec<AccountRecord>, StoreError>;

    async fn account(&self, id: i64) -> Result<Option<AccountRecord>, StoreError>;

    /// Disable (ending its sessions) or enable an account.
    async fn set_account_disabled(
        &self,
        id: i64,
        disabled: bool,
        now: Timestamp,
        audit: AuditEntry,
    ) -> Result<AccountRecord, StoreError>;

    /// Replace the TOTP secret (a lost authenticator): the old codes stop
    /// working, failures and lock are cleared, sessions end.
    async fn reset_totp(
        &self,
        id: i64,
        secret_b32: &str,
        now: Timestamp,
        audit: AuditEntry,
    ) -> Result<AccountRecord, StoreError>;
}
