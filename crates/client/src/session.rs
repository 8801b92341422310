//! Key-bound device sessions: one signature, then a MAC per request.
//!
//! An ECDSA P-256 verification costs about 70 µs of server CPU; at 10,000
//! single-fix requests a second that is most of a core (DESIGN.md, "Facts
//! measured"). A phone therefore opens a session once a day:
//!
//! 1. It makes an ephemeral ECDH P-256 key pair (in the PWA: WebCrypto,
//!    private key non-extractable) and sends the public half in
//!    `POST /v1/device-sessions`, **signed with its device key**
//!    (`ecdsa-p256-sha256`): only the holder of the bound key can open a
//!    session for the device.
//! 2. The server answers with its own ephemeral ECDH public key, a session
//!    id and an expiry. Both sides compute the shared secret and derive the
//!    session key with HKDF-SHA256 ([`derive_session_key`]): salt = the
//!    session id, info = [`SESSION_KDF_INFO`] followed by the device id.
//!    The key never crosses the network; the phone keeps it as a
//!    non-extractable WebCrypto HMAC key.
//! 3. Until the expiry, every request carries the usual RFC 9421 headers
//!    with `alg="hmac-sha256"`, `keyid="<session id>"` and a random
//!    `nonce`; the tag is HMAC-SHA256 over the same signature base (method,
//!    path, body digest, created, nonce). Fixes stay idempotent by (device,
//!    seq).
//!
//! A stolen bearer value still cannot report: there is none. The session
//! key is as strong a proof as the device key for the session's lifetime,
//! and it is bound to the device: a revoked device's session reports
//! nothing (the store refuses fixes from a device that is not active).

use base64::Engine as _;
use jiff::Timestamp;
use ring::agreement::{agree_ephemeral, EphemeralPrivateKey, UnparsedPublicKey, ECDH_P256};
use ring::hkdf;
use serde::{Deserialize, Serialize};

use crate::key::{proven_headers, SignedHeaders};
use crate::proto::{SignatureParams, SESSION_ALG};

const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Where a session is opened.
pub const SESSION_PATH: &str = "/v1/device-sessions";

/// The HKDF `info` prefix; the device id follows it.
pub const SESSION_KDF_INFO: &[u8] = b"amina device session v1 ";

/// Length of a session key in bytes (the HMAC-SHA256 output size).
pub const SESSION_KEY_LEN: usize = 32;

/// Body of `POST /v1/device-sessions`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionRequest {
    /// The phone's ephemeral ECDH P-256 public key: the 65-byte SEC1
    /// uncompressed point, base64url without padding (WebCrypto's `raw`
    /// export).
    pub ecdh_public: String,
}

/// Answer to `POST /v1/device-sessions`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionResponse {
    /// The `keyid` of requests in this session.
    pub session_id: String,
    /// The server's ephemeral ECDH P-256 public key, SEC1 uncompressed,
    /// base64url without padding.
    pub server_public: String,
    /// The `alg` of requests in this session: `hmac-sha256`.
    pub alg: String,
    /// RFC 3339 instant after which the session is refused
    /// (`session_expired`); the phone opens a new one.
    pub expires_at: String,
}

/// Why a session answer could not be turned into a session key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("the ECDH public key is not a base64url P-256 point")]
    PublicKey,
    #[error("the expiry is not an RFC 3339 instant")]
    Expiry,
}

/// The session key both sides derive from the ECDH shared secret.
pub fn derive_session_key(
    shared_secret: &[u8],
    session_id: &str,
    device_id: &str,
) -> [u8; SESSION_KEY_LEN] {
    struct Len;
    impl hkdf::KeyType for Len {
        fn len(&self) -> usize {
            SESSION_KEY_LEN
        }
    }
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, session_id.as_bytes()).extract(shared_secret);
    let info = [SESSION_KDF_INFO, device_id.as_bytes()];
    let mut key = [0u8; SESSION_KEY_LEN];
    prk.expand(&info, Len)
        .and_then(|okm| okm.fill(&mut key))
        .expect("invariant: 32 bytes is within HKDF-SHA256's output limit");
    key
}

/// One ECDH agreement with `peer_public` (SEC1, base64url): the shared
/// secret fed to [`derive_session_key`]. `None` if the peer's key is not a
/// point on P-256.
pub fn agree(
    private: EphemeralPrivateKey,
    peer_public_b64url: &str,
    session_id: &str,
    device_id: &str,
) -> Option<[u8; SESSION_KEY_LEN]> {
    let peer = B64URL.decode(peer_public_b64url).ok()?;
    agree_ephemeral(
        private,
        &UnparsedPublicKey::new(&ECDH_P256, &peer),
        |shared| derive_session_key(shared, session_id, device_id),
    )
    .ok()
}

/// A fresh ephemeral ECDH key pair and the request that offers its public
/// half.
pub fn offer() -> (EphemeralPrivateKey, SessionRequest) {
    let rng = ring::rand::SystemRandom::new();
    let private = EphemeralPrivateKey::generate(&ECDH_P256, &rng)
        .expect("invariant: the system random source works");
    let public = private
        .compute_public_key()
        .expect("invariant: a generated key has a public key");
    let request = SessionRequest {
        ecdh_public: B64URL.encode(public.as_ref()),
    };
    (private, request)
}

/// A fresh random `nonce` for a request in a session: 96 bits, base64url.
pub fn nonce() -> String {
    let mut raw = [0u8; 12];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut raw)
        .expect("invariant: the system random source works");
    B64URL.encode(raw)
}

/// An open session, on the phone's side.
#[derive(Clone)]
pub struct DeviceSession {
    pub id: String,
    key: ring::hmac::Key,
    pub expires_at: Timestamp,
}

impl std::fmt::Debug for DeviceSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceSession")
            .field("id", &self.id)
            .field("key", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl DeviceSession {
    /// Complete the exchange with the server's answer.
    pub fn accept(
        private: EphemeralPrivateKey,
        answer: &SessionResponse,
        device_id: &str,
    ) -> Result<Self, SessionError> {
        let expires_at: Timestamp = answer
            .expires_at
            .parse()
            .map_err(|_| SessionError::Expiry)?;
        let key = agree(
            private,
            &answer.server_public,
            &answer.session_id,
            device_id,
        )
        .ok_or(SessionError::PublicKey)?;
        Ok(DeviceSession {
            id: answer.session_id.clone(),
            key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key),
            expires_at,
        })
    }

    /// Whether the session can still be used at `now`, leaving `margin_s`
    /// for the request to arrive.
    pub fn usable_at(&self, now: Timestamp, margin_s: i64) -> bool {
        now.as_second() + margin_s < self.expires_at.as_second()
    }

    /// Authenticate a request inside the session (RFC 9421, hmac-sha256).
    pub fn sign_request(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
        created_unix_s: i64,
    ) -> SignedHeaders {
        let params = SignatureParams {
            covers_digest: false,
            created: created_unix_s,
            keyid: self.id.clone(),
            alg: SESSION_ALG.to_string(),
            nonce: Some(nonce()),
        };
        proven_headers(method, path, body, params, |base| {
            ring::hmac::sign(&self.key, base).as_ref().to_vec()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sides_derive_the_same_key_and_only_with_their_own_ids() {
        let (phone_private, request) = offer();
        let (server_private, server_offer) = offer();
        let server_key = agree(server_private, &request.ecdh_public, "ds_1", "dv_a")
            .expect("the phone's key is a point");
        let phone_key = agree(phone_private, &server_offer.ecdh_public, "ds_1", "dv_a")
            .expect("the server's key is a point");
        assert_eq!(server_key, phone_key);
        let shared = [7u8; 32];
        let k = derive_session_key(&shared, "ds_1", "dv_a");
        assert_ne!(k, derive_session_key(&shared, "ds_2", "dv_a"));
        assert_ne!(k, derive_session_key(&shared, "ds_1", "dv_b"));
        assert_ne!(k, derive_session_key(&[8u8; 32], "ds_1", "dv_a"));
    }

    #[test]
    fn a_point_off_the_curve_gives_no_key() {
        let (private, _) = offer();
        let mut bad = vec![4u8];
        bad.extend([1u8; 64]);
        assert!(agree(private, &B64URL.encode(&bad), "ds_1", "dv_a").is_none());
        let (private, _) = offer();
        assert!(agree(private, "not base64!", "ds_1", "dv_a").is_none());
    }

    #[test]
    fn session_requests_carry_the_session_id_and_a_verifiable_tag() {
        let (phone_private, request) = offer();
        let (server_private, server_offer) = offer();
        let answer = SessionResponse {
            session_id: "ds_x".into(),
            server_public: server_offer.ecdh_public,
            alg: SESSION_ALG.into(),
            expires_at: "2026-12-01T00:00:00Z".into(),
        };
        let session = DeviceSession::accept(phone_private, &answer, "dv_a").expect("valid answer");
        let server_key = agree(server_private, &request.ecdh_public, "ds_x", "dv_a").unwrap();
        let h = session.sign_request("POST", "/v1/fixes", Some(b"{}"), 1_700_000_000);
        let params = SignatureParams::parse(&h.signature_input).expect("parses");
        assert!(params.uses_session());
        assert_eq!(params.keyid, "ds_x");
        let tag = crate::proto::parse_signature_header(&h.signature).unwrap();
        let base = params.signature_base("POST", "/v1/fixes", h.content_digest.as_deref());
        let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &server_key);
        assert!(ring::hmac::verify(&k, base.as_bytes(), &tag).is_ok());
        let other = params.signature_base("POST", "/v1/checkins", h.content_digest.as_deref());
        assert!(ring::hmac::verify(&k, other.as_bytes(), &tag).is_err());
        let again = session.sign_request("POST", "/v1/fixes", Some(b"{}"), 1_700_000_000);
        assert_ne!(
            again.signature, h.signature,
            "the nonce makes each tag unique"
        );
        assert!(session.usable_at("2026-11-30T23:00:00Z".parse().unwrap(), 60));
        assert!(!session.usable_at("2026-11-30T23:59:30Z".parse().unwrap(), 60));
    }
}
