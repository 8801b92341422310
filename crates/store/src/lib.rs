//! Storage for amina behind one interface, with two backends.
//!
//! - [`sqlite::SqliteStore`]: the embedded default. One writer thread applies
//!   all writes with group commit (many requests, one fsync), readers use a
//!   small pool of WAL connections.
//! - [`postgres::PostgresStore`]: the production store (PostgreSQL with
//!   PostGIS). Several server processes may share it; row locks and unique
//!   constraints make every decision happen once.
//!
//! The [`Store`] trait is shaped around the system's atomic operations, not
//! around tables: each method is one transaction. The rules themselves live
//! in `amina_domain`; a backend loads state, asks the domain what to do
//! ([`amina_domain::monitor::Monitor::plan_batch`] and friends), and writes
//! the answer. An acknowledgement returned by a write method means the
//! transaction has committed durably.

pub mod accounts;
pub mod audit;
pub mod console;
pub mod detection;
pub mod host;
pub mod integration;
pub mod model;
pub mod owntracks;
pub mod postgres;
pub mod push;
pub mod retention;
pub mod session;
pub mod signals;
pub mod spotcheck;
pub mod sqlite;
pub mod stay;
mod time;

use std::sync::Arc;

use amina_domain::eligibility::CardRecord;
use amina_domain::monitor::{BatchError, FixInput, Monitor};
use amina_domain::types::CardNumber;
use async_trait::async_trait;
use jiff::Timestamp;

pub use accounts::AccountAdminStore;
pub use audit::{AuditEntry, AuditQuery, AuditRecord, AuditStore, ChainBreak};
pub use console::*;
pub use detection::*;
pub use host::*;
pub use integration::*;
pub use model::*;
pub use owntracks::*;
pub use push::*;
pub use retention::*;
pub use session::*;
pub use signals::*;
pub use spotcheck::*;
pub use stay::*;

/// Storage failures, precise enough for the HTTP layer to map each to a
/// status code in one place.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or is shutting down: retry later.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("unknown device")]
    UnknownDevice,
    #[error("device revoked")]
    DeviceRevoked,
    #[error("unknown card")]
    UnknownCard,
    #[error("unknown person")]
    UnknownPerson,
    #[error("binding token is unknown, expired or already used")]
    BindingTokenInvalid,
    #[error("this public key is already bound to a device")]
    KeyAlreadyBound,
    #[error(transparent)]
    Batch(#[from] BatchError),
    #[error("unknown signal")]
    UnknownSignal,
    #[error(transparent)]
    Review(#[from] amina_domain::signal::ReviewError),
    #[error(transparent)]
    Console(#[from] console::ConsoleError),
    /// A place-of-stay notice or an enrolment code refused (see [`StayError`]).
    #[error(transparent)]
    Stay(#[from] StayError),
    /// An integration event refused, or a card the federal system invalidated.
    #[error(transparent)]
    Integration(#[from] IntegrationError),
    /// A host-party operation refused (see [`HostError`]).
    #[error(transparent)]
    Host(#[from] HostError),
    /// A rule could not be evaluated (e.g. a date outside the calendar).
    #[error("rule evaluation failed: {0}")]
    Rule(String),
    /// A bug or corrupted data: logged, shown to clients as a 500.
    #[error("internal storage error: {0}")]
    Internal(String),
}

/// Which backend a store is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The storage interface. Every method is one transaction. Areas beyond
/// the spine have their own traits (e.g. [`SignalStore`], [`ConsoleStore`],
/// [`AuditStore`], [`StayStore`], [`PushStore`], [`DetectionStore`]), which
/// `Store` includes.
#[async_trait]
pub trait Store:
    SignalStore
    + DetectionStore
    + ConsoleStore
    + AuditStore
    + StayStore
    + PushStore
    + OwnTracksStore
    + RetentionStore
    + SessionStore
    + SpotCheckStore
    + AccountAdminStore
    + IntegrationStore
    + HostStore
    + Send
    + Sync
    + 'static
{
    fn backend(&self) -> Backend;

    /// Apply pending schema migrations; returns the names applied now.
    async fn migrate(&self) -> Result<Vec<String>, StoreError>;

    /// A cheap round trip to the database.
    async fn health(&self) -> Result<(), StoreError>;

    /// Insert or update card records, all or nothing.
    async fn import_cards(
        &self,
        cards: Vec<CardRecord>,
        now: Timestamp,
    ) -> Result<ImportCounts, StoreError>;

    /// What enrolment needs to know about a card.
    async fn card_login(&self, number: &CardNumber) -> Result<Option<CardLogin>, StoreError>;

    /// Count a wrong activation secret; lock the card at `lock_after`
    /// consecutive failures. Returns the card's state after counting.
    async fn record_failed_attempt(
        &self,
        number: &CardNumber,
        now: Timestamp,
        lock_after: u32,
    ) -> Result<CardLogin, StoreError>;

    /// Unlock a locked card (operator action); false if it was not locked.
    async fn unlock_card(
        &self,
        number: &CardNumber,
        actor: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Enrol the card's holder: create the person, or start a new
    /// registration if they were deregistered, or keep the current one; in
    /// every case issue a single-use binding token and reset failed attempts.
    async fn enrol(
        &self,
        monitor: &Monitor,
        number: &CardNumber,
        token: NewBindingToken,
        now: Timestamp,
    ) -> Result<Enrolment, StoreError>;

    /// Bind a device with a binding token: revoke the person's previous
    /// active device (recorded), insert the new one.
    async fn bind_device(
        &self,
        token_hash: [u8; 32],
        device: NewDevice,
        now: Timestamp,
    ) -> Result<DeviceRecord, StoreError>;

    async fn device(&self, device_id: &str) -> Result<Option<DeviceRecord>, StoreError>;

    /// Store a batch of fixes from a device, idempotently by (device, seq).
    async fn ingest(
        &self,
        monitor: &Monitor,
        device_id: &str,
        fixes: Vec<FixInput>,
        now: Timestamp,
    ) -> Result<IngestOutcome, StoreError>;

    async fn person(&self, person_id: i64) -> Result<Option<PersonView>, StoreError>;

    async fn person_by_card(&self, number: &CardNumber) -> Result<Option<PersonView>, StoreError>;

    /// Deregister up to `limit` people whose deadline has passed at `now`.
    /// Safe to run concurrently from several processes: each person is
    /// deregistered once.
    async fn deregister_due(
        &self,
        monitor: &Monitor,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<DeregisteredPerson>, StoreError>;

    async fn deregistrations(
        &self,
        person_id: i64,
    ) -> Result<Vec<DeregistrationRecord>, StoreError>;

    /// The person's stored fixes, newest recorded first.
    async fn fixes(&self, person_id: i64, limit: u32) -> Result<Vec<StoredFix>, StoreError>;

    /// The person's history (enrolments, bindings, revocations, …), oldest first.
    async fn person_events(&self, person_id: i64) -> Result<Vec<PersonEvent>, StoreError>;

    /// Counts for /metrics and operators.
    async fn counts(&self) -> Result<StoreCounts, StoreError>;
}

/// The names of the schema migrations, in the order they apply (the same
/// for both backends).
pub fn migration_names() -> Vec<String> {
    sqlite::MIGRATIONS
        .iter()
        .map(|(name, _)| name.to_string())
        .collect()
}

/// A shared, dynamically chosen store.
pub type SharedStore = Arc<dyn Store>;

/// Open the store a URL names: `sqlite:PATH` (or a plain path) or
/// `postgres://…`.
pub async fn open(url: &str) -> Result<SharedStore, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PostgresStore::connect(url).await?))
    } else {
        let path = url.strip_prefix("sqlite:").unwrap_or(url);
        Ok(Arc::new(sqlite::SqliteStore::open(path)?))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn both_backends_have_the_same_migrations() {
        let sqlite: Vec<&str> = crate::sqlite::MIGRATIONS.iter().map(|m| m.0).collect();
        let postgres: Vec<&str> = crate::postgres::MIGRATIONS.iter().map(|m| m.0).collect();
        assert_eq!(sqlite, postgres);
    }
}
