//! Storage for key-bound device sessions (see `amina_client::session`).
//!
//! A session is opened with one request signed by the device key; its
//! HMAC key is then the proof of every request until it expires. The key
//! is kept here so that every server node on the same database can check
//! requests of a session another node opened. Expired sessions are deleted
//! by the retention job.

use async_trait::async_trait;
use jiff::Timestamp;

use crate::StoreError;

/// A session to store.
#[derive(Clone, PartialEq, Eq)]
pub struct NewDeviceSession {
    pub id: String,
    pub device_id: String,
    /// The 32-byte HMAC-SHA256 key both sides derived.
    pub mac_key: Vec<u8>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// A stored session, with the person its device belongs to. `Debug`
/// never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceSessionRecord {
    pub id: String,
    pub device_id: String,
    pub person_id: i64,
    pub mac_key: Vec<u8>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

impl std::fmt::Debug for NewDeviceSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewDeviceSession")
            .field("id", &self.id)
            .field("device_id", &self.device_id)
            .field("mac_key", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl std::fmt::Debug for DeviceSessionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceSessionRecord")
            .field("id", &self.id)
            .field("device_id", &self.device_id)
            .field("person_id", &self.person_id)
            .field("mac_key", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

#[async_trait]
pub trait SessionStore {
    /// Store a new session of a known device ([`StoreError::UnknownDevice`]
    /// otherwise). Whether the device may open one is the caller's check.
    async fn insert_device_session(
        &self,
        session: NewDeviceSession,
    ) -> Result<DeviceSessionRecord, StoreError>;

    /// A session by id, expired or not.
    async fn device_session(&self, id: &str) -> Result<Option<DeviceSessionRecord>, StoreError>;

    /// Delete the sessions that expired before `now`; returns how many.
    async fn purge_device_sessions(&self, now: Timestamp) -> Result<u64, StoreError>;
}
