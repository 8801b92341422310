//! Checking a device's proof of key possession (RFC 9421, see
//! `amina_client::proto` for the scheme).
//!
//! A proof is either an ECDSA P-256 signature by the device key
//! (`ecdsa-p256-sha256`, keyid = device id) or, inside a key-bound session
//! the device opened with such a signature, an HMAC-SHA256 tag with the
//! session key (`hmac-sha256`, keyid = session id; see
//! `amina_client::session`).
//!
//! Order of checks, cheapest first: headers present and well-formed,
//! `created` within the clock-skew allowance, body digest, then the ECDSA
//! P-256 verification (ring, ~70 µs on this class of machine) or the
//! HMAC-SHA256 (two hash passes over a few hundred bytes). A verified proof is then refused if it was received before
//! (a replay inside the skew window, `crate::limits::ReplayGuard`) and
//! counted against the device's rate limit.

use std::sync::Arc;

use amina_client::proto::{
    content_digest, parse_signature_header, SignatureParams, CONTENT_DIGEST, SIGNATURE,
    SIGNATURE_INPUT,
};
use axum::http::HeaderMap;
use jiff::Timestamp;
use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};

use crate::error::ApiError;
use crate::state::{AppState, DeviceKeyEntry, SessionEntry};

/// How a device proved a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    /// Signed with the device key.
    Signature,
    /// Tagged with the key of a session the device opened.
    Session,
}

/// A request whose proof checked out against this device's key or session.
#[derive(Debug, Clone)]
pub struct VerifiedDevice {
    pub device_id: String,
    pub person_id: i64,
    pub proof: Proof,
}

/// Parsed signature headers, before the key is known.
pub struct SignedRequest {
    pub params: SignatureParams,
    pub signature: Vec<u8>,
    pub digest: Option<String>,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ApiError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v.to_str().map(Some).map_err(|_| {
            ApiError::bad_request("signature_malformed", format!("{name} is not ASCII"))
        }),
    }
}

/// Parse the signature headers and check freshness and the body digest.
pub fn parse_signed(
    headers: &HeaderMap,
    body: Option<&[u8]>,
    now: Timestamp,
    skew_s: i64,
) -> Result<SignedRequest, ApiError> {
    let (Some(input), Some(sig)) = (
        header(headers, SIGNATURE_INPUT)?,
        header(headers, SIGNATURE)?,
    ) else {
        return Err(ApiError::unauthorized(
            "signature_missing",
            "Signature-Input and Signature headers are required (RFC 9421)",
        ));
    };
    let params = SignatureParams::parse(input)
        .map_err(|e| ApiError::unauthorized("signature_malformed", e.to_string()))?;
    let signature = parse_signature_header(sig)
        .map_err(|e| ApiError::unauthorized("signature_malformed", e.to_string()))?;
    let age = now.as_second() - params.created;
    if age.abs() > skew_s {
        return Err(ApiError::unauthorized(
            "signature_expired",
            "the signature's created time is too far from the server's clock",
        )
        .with_detail(serde_json::json!({"server_time": now.to_string()})));
    }
    let digest = match body {
        Some(body) => {
            if !params.covers_digest {
                return Err(ApiError::unauthorized(
                    "signature_malformed",
                    "a request with a body must sign content-digest",
                ));
            }
            let sent = header(headers, CONTENT_DIGEST)?.ok_or_else(|| {
                ApiError::bad_request("digest_missing", "Content-Digest header is required")
            })?;
            let actual = content_digest(body);
            if sent != actual {
                return Err(ApiError::bad_request(
                    "digest_mismatch",
                    "Content-Digest does not match the body",
                ));
            }
            Some(actual)
        }
        None => None,
    };
    Ok(SignedRequest {
        params,
        signature,
        digest,
    })
}

/// Verify the signature of a parsed request with a SEC1 public key.
pub fn verify_with_key(
    req: &SignedRequest,
    public_key: &[u8],
    method: &str,
    path: &str,
) -> Result<(), ApiError> {
    let base = req
        .params
        .signature_base(method, path, req.digest.as_deref());
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, public_key)
        .verify(base.as_bytes(), &req.signature)
        .map_err(|_| ApiError::unauthorized("signature_invalid", "the signature does not verify"))
}

/// [`verify_device_request`], and the device must still be the person's
/// active one (a revoked phone's key still verifies: keys never change) —
/// or the companion app key of the person's active OwnTracks device, which
/// reads the person's own data while OwnTracks reports (see
/// `amina_store::owntracks`). Uploading fixes is not among its rights: the
/// store refuses fixes from any device that is not active.
pub async fn verify_active_device(
    state: &AppState,
    method: &str,
    path: &str,
    headers: &HeaderMap,
    body: Option<&[u8]>,
) -> Result<VerifiedDevice, ApiError> {
    let device = verify_device_request(state, method, path, headers, body).await?;
    let record = state
        .store
        .device(&device.device_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("unknown_device", "this device is not bound"))?;
    if record.status != amina_store::DeviceStatus::Active {
        match state.store.companion_of(&device.device_id).await? {
            Some((_, amina_store::DeviceStatus::Active)) => {}
            _ => return Err(amina_store::StoreError::DeviceRevoked.into()),
        }
    }
    Ok(device)
}

/// Verify a device request end to end: headers, freshness, digest, key
/// or session lookup (cached) and signature or tag.
pub async fn verify_device_request(
    state: &AppState,
    method: &str,
    path: &str,
    headers: &HeaderMap,
    body: Option<&[u8]>,
) -> Result<VerifiedDevice, ApiError> {
    let now = state.clock.now();
    let skew = i64::from(state.config.rules.clock_skew_s);
    let req = parse_signed(headers, body, now, skew)?;
    let verified = if req.params.uses_session() {
        let session = session_entry(state, &req.params.keyid).await?;
        let base = req
            .params
            .signature_base(method, path, req.digest.as_deref());
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &session.mac_key);
        ring::hmac::verify(&key, base.as_bytes(), &req.signature).map_err(|_| {
            ApiError::unauthorized(
                "signature_invalid",
                "the tag does not verify with the session's key",
            )
        })?;
        // Only the key's holder learns that its session ended.
        if now >= session.expires_at {
            return Err(ApiError::unauthorized(
                "session_expired",
                "the device session has expired; open a new one",
            )
            .with_detail(serde_json::json!({"expired_at": session.expires_at.to_string()})));
        }
        VerifiedDevice {
            device_id: session.device_id.clone(),
            person_id: session.person_id,
            proof: Proof::Session,
        }
    } else {
        let device_id = req.params.keyid.clone();
        let entry = device_key_entry(state, &device_id).await?;
        verify_with_key(&req, &entry.public_key, method, path)?;
        VerifiedDevice {
            device_id,
            person_id: entry.person_id,
            proof: Proof::Signature,
        }
    };
    // Only a verified proof is remembered or counted: junk under someone
    // else's key id must not use up that device's budget.
    if !state
        .replay
        .first_use(&verified.device_id, req.params.created, &req.signature)
    {
        return Err(ApiError::unauthorized(
            "signature_replayed",
            "this exact signed request was already received; sign each request anew",
        ));
    }
    state.limits.device(&verified.device_id)?;
    Ok(verified)
}

/// A device's public key, from the cache or the store.
async fn device_key_entry(
    state: &AppState,
    device_id: &str,
) -> Result<Arc<DeviceKeyEntry>, ApiError> {
    let cached = state
        .device_keys
        .read()
        .ok()
        .and_then(|m| m.get(device_id).cloned());
    if let Some(entry) = cached {
        return Ok(entry);
    }
    let device = state
        .store
        .device(device_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("unknown_device", "this device is not bound"))?;
    let entry = Arc::new(DeviceKeyEntry {
        person_id: device.person_id,
        public_key: device.public_key,
    });
    if let Ok(mut m) = state.device_keys.write() {
        m.insert(device_id.to_string(), Arc::clone(&entry));
    }
    Ok(entry)
}

/// A session, from this node's cache or the store (another node may have
/// opened it). A session's key and device never change, so caching is
/// safe; the expiry is checked on every request.
async fn session_entry(state: &AppState, session_id: &str) -> Result<Arc<SessionEntry>, ApiError> {
    if let Some(entry) = state.sessions.get(session_id) {
        return Ok(entry);
    }
    let record = state
        .store
        .device_session(session_id)
        .await?
        .ok_or_else(|| {
            ApiError::unauthorized(
                "unknown_session",
                "no device session with this id; open a new one",
            )
        })?;
    Ok(state.sessions.insert(SessionEntry::from(record)))
}
