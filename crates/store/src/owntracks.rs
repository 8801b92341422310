//! Storage for OwnTracks devices (issue 6).
//!
//! An OwnTracks phone app reports location in the background over HTTP with
//! HTTP Basic authentication and libsodium secretbox payloads. It is bound as
//! an ordinary row of `devices` (kind `owntracks`), so the one-active-device
//! rule, rebinding records and the (device, seq) idempotency of fixes are the
//! same as for the PWA; its credentials live in `owntracks_credentials`.
//!
//! The PWA key that provisions it becomes its *companion*: revoked for
//! reporting (one reporting device per person), but still able to read the
//! person's own data while the OwnTracks device is the active one, because a
//! migrant keeps opening the app to see the status, notices and "my data".

use async_trait::async_trait;
use jiff::Timestamp;

use crate::{DeviceRecord, DeviceStatus, StoreError};

/// The kind recorded in `devices.kind` for OwnTracks devices.
pub const OWNTRACKS_KIND: &str = "owntracks";

/// A secretbox key as OwnTracks holds it: a string whose UTF-8 bytes,
/// zero-padded or truncated to 32, are the key. Never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretboxKey(String);

impl SecretboxKey {
    pub fn new(s: String) -> Self {
        SecretboxKey(s)
    }
    /// The string to put in the OwnTracks configuration.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretboxKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretboxKey(<redacted>)")
    }
}

/// An OwnTracks device to bind.
#[derive(Debug, Clone)]
pub struct NewOwnTracksDevice {
    /// Also the HTTP Basic user name.
    pub id: String,
    /// SHA-256 of the HTTP Basic secret (256 random bits).
    pub secret_sha256: [u8; 32],
    pub secretbox_key: SecretboxKey,
    /// Tracker id configured in the app.
    pub tid: String,
    /// Who provisioned it: "self" or an operator's account.
    pub actor: String,
}

/// What authenticating and decrypting an OwnTracks request needs.
#[derive(Debug, Clone, PartialEq)]
pub struct OwnTracksCredential {
    pub device_id: String,
    pub person_id: i64,
    pub status: DeviceStatus,
    pub secret_sha256: [u8; 32],
    pub secretbox_key: SecretboxKey,
    pub tid: String,
}

#[async_trait]
pub trait OwnTracksStore: Send + Sync {
    /// Bind an OwnTracks device as the person's one active device, in one
    /// transaction: the previous active device is revoked (recorded, as any
    /// rebinding), the new device and its credentials are inserted. When
    /// `companion` names the PWA key that asked, that key is linked to the
    /// new device so it keeps reading the person's own data.
    async fn bind_owntracks(
        &self,
        person_id: i64,
        companion: Option<String>,
        device: NewOwnTracksDevice,
        now: Timestamp,
    ) -> Result<DeviceRecord, StoreError>;

    async fn owntracks_credential(
        &self,
        device_id: &str,
    ) -> Result<Option<OwnTracksCredential>, StoreError>;

    /// The device a (revoked) PWA key accompanies, and that device's status.
    async fn companion_of(
        &self,
        device_id: &str,
    ) -> Result<Option<(String, DeviceStatus)>, StoreError>;

    /// Stop reporting with OwnTracks from its companion PWA key: the
    /// OwnTracks device is revoked and the companion key becomes the active
    /// device again (both recorded). Calling it for a key that is already
    /// the active device changes nothing. A key whose OwnTracks device was
    /// revoked by another rebinding gets [`StoreError::DeviceRevoked`].
    async fn stop_owntracks(
        &self,
        companion_id: &str,
        now: Timestamp,
    ) -> Result<DeviceRecord, StoreError>;
}
