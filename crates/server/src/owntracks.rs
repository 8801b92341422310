//! OwnTracks HTTP mode: the wire format, payload decryption, device
//! credentials and the remote-configuration link (issue 6).
//!
//! OwnTracks (Android and iOS) reports location in the background, which a
//! web app cannot do. In HTTP mode it POSTs one JSON message per request
//! with HTTP Basic authentication; with an encryption key configured every
//! message is wrapped as `{"_type":"encrypted","data":…}`, where `data` is
//! base64 of a 24-byte nonce followed by a libsodium `crypto_secretbox`
//! (XSalsa20-Poly1305) box. The key is the UTF-8 bytes of the configured
//! key string, zero-padded or truncated to 32 bytes. (Facts from the
//! OwnTracks booklet: tech/http, tech/json, features/encrypt,
//! features/remoteconfig.)
//!
//! Everything here is pure: parsing, decryption and the mapping of an
//! OwnTracks location onto the system's [`FixInput`]. The handlers in
//! `api::owntracks` authenticate, call the store and answer.
//!
//! Idempotency: fixes are idempotent by (device, seq). An OwnTracks location
//! has no sequence number, but its `tst` (the fix's Unix time in seconds)
//! names it: seq = tst. OwnTracks re-sends queued messages after an outage
//! unchanged, so a re-sent location maps to the same seq and the same
//! content and is acknowledged as a duplicate, stored once. A location with
//! the tst of a stored one but other content (coordinates, accuracy,
//! battery) is refused as `sequence_reused` (409) and changes nothing: the
//! app never makes two different fixes in one second (a ping carries the
//! current time), so that is a forged or corrupted message.

use amina_domain::monitor::FixInput;
use amina_domain::reminders::{Checkin, CheckinClient, Network, Permission};
use amina_domain::types::{AccuracyM, BatteryPct, Coordinates, DeviceSeq, FixSource, InputError};
use axum::http::StatusCode;
use base64::Engine as _;
use crypto_secretbox::aead::{Aead, KeyInit};
use crypto_secretbox::{Key, Nonce, XSalsa20Poly1305};
use jiff::Timestamp;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// `crypto_secretbox_KEYBYTES`.
pub const KEY_BYTES: usize = 32;
/// `crypto_secretbox_NONCEBYTES`.
pub const NONCE_BYTES: usize = 24;
/// `crypto_secretbox_MACBYTES`.
const MAC_BYTES: usize = 16;
/// The tracker id written into the configuration (OwnTracks shows it on its
/// map; HTTP mode requires one in every location).
pub const TID: &str = "AM";
/// The `deviceId` written into the configuration (sent as `X-Limit-D`).
pub const DEVICE_NAME: &str = "phone";

/// Why an OwnTracks request was refused. Mapped to HTTP in `crate::error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OwnTracksError {
    #[error("HTTP Basic authentication is required")]
    AuthMissing,
    #[error("the user name or the secret is wrong")]
    AuthFailed,
    #[error("X-Limit-U / X-Limit-D (or u, d) do not name this device")]
    IdentityMismatch,
    #[error("the body is not an OwnTracks JSON message: {0}")]
    Malformed(String),
    #[error("this device must send encrypted payloads")]
    EncryptionRequired,
    #[error("the payload does not decrypt with this device's key")]
    DecryptionFailed,
    #[error("an HTTP-mode message must carry a tid")]
    MissingTid,
    #[error("tst must be a Unix time in seconds after 1970")]
    InvalidTst,
    #[error(transparent)]
    Input(#[from] InputError),
}

impl OwnTracksError {
    pub fn code(&self) -> &'static str {
        match self {
            OwnTracksError::AuthMissing => "owntracks_auth_missing",
            OwnTracksError::AuthFailed => "owntracks_auth_failed",
            OwnTracksError::IdentityMismatch => "owntracks_identity_mismatch",
            OwnTracksError::Malformed(_) => "malformed_json",
            OwnTracksError::EncryptionRequired => "encryption_required",
            OwnTracksError::DecryptionFailed => "decryption_failed",
            OwnTracksError::MissingTid => "missing_tid",
            OwnTracksError::InvalidTst => "invalid_tst",
            OwnTracksError::Input(e) => e.code(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            OwnTracksError::AuthMissing | OwnTracksError::AuthFailed => StatusCode::UNAUTHORIZED,
            OwnTracksError::IdentityMismatch => StatusCode::FORBIDDEN,
            OwnTracksError::Malformed(_)
            | OwnTracksError::EncryptionRequired
            | OwnTracksError::DecryptionFailed => StatusCode::BAD_REQUEST,
            OwnTracksError::MissingTid | OwnTracksError::InvalidTst | OwnTracksError::Input(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
        }
    }
}

/// The 32 key bytes OwnTracks derives from its key string.
pub fn key_bytes(key: &str) -> [u8; KEY_BYTES] {
    let mut out = [0u8; KEY_BYTES];
    let raw = key.as_bytes();
    let n = raw.len().min(KEY_BYTES);
    out[..n].copy_from_slice(&raw[..n]);
    out
}

/// Open an `encrypted` message's `data`: base64(nonce || box).
pub fn decrypt(key: &str, data: &str) -> Result<Vec<u8>, OwnTracksError> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|_| OwnTracksError::DecryptionFailed)?;
    if raw.len() < NONCE_BYTES + MAC_BYTES {
        return Err(OwnTracksError::DecryptionFailed);
    }
    let (nonce, sealed) = raw.split_at(NONCE_BYTES);
    let key = key_bytes(key);
    XSalsa20Poly1305::new(Key::from_slice(&key))
        .decrypt(Nonce::from_slice(nonce), sealed)
        .map_err(|_| OwnTracksError::DecryptionFailed)
}

/// Seal a message as OwnTracks does (for tests and the simulator): a fresh
/// random nonce, base64(nonce || box).
pub fn encrypt(key: &str, plaintext: &[u8]) -> String {
    let mut nonce = [0u8; NONCE_BYTES];
    rand::fill(&mut nonce);
    let key = key_bytes(key);
    let sealed = XSalsa20Poly1305::new(Key::from_slice(&key))
        .encrypt(Nonce::from_slice(&nonce), plaintext)
        .expect("invariant: XSalsa20-Poly1305 encryption of an in-memory buffer cannot fail");
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    base64::engine::general_purpose::STANDARD.encode(out)
}

/// A `_type=location` message; fields from the OwnTracks JSON
/// documentation. Unknown fields are ignored (the apps add new ones).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Location {
    pub lat: f64,
    pub lon: f64,
    pub tst: i64,
    /// Accuracy in metres; omitted when zero.
    pub acc: Option<f64>,
    /// Battery level, percent.
    pub batt: Option<i64>,
    /// Battery status: 0 unknown, 1 unplugged, 2 charging, 3 full.
    pub bs: Option<i64>,
    /// Connectivity when the message was made: w wifi, o offline, m mobile.
    pub conn: Option<String>,
    /// Trigger: p ping, c region, r requested, u user, t timer, …; absent
    /// for an automatic update.
    pub t: Option<String>,
    pub tid: Option<String>,
    /// Velocity, km/h.
    pub vel: Option<f64>,
    /// When the message was built (vs `tst`, the fix's time).
    pub created_at: Option<i64>,
}

/// A decoded OwnTracks message, as far as this system cares.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Location(Location),
    /// Region enter/leave: the app also sends a location (`t=c`) for the
    /// same event, which is the one stored; the transition shows the app is
    /// running.
    Transition {
        tid: String,
    },
    /// MQTT last will: acknowledged, nothing stored.
    Lwt,
    /// The app's status report: shows the app is running.
    Status,
    /// Any other type (waypoints, card, steps, …): acknowledged so the app
    /// does not retry it forever, nothing stored.
    Other(String),
}

impl Message {
    /// True when this message shows the app was running (a check-in).
    pub fn is_report(&self) -> bool {
        matches!(
            self,
            Message::Location(_) | Message::Transition { .. } | Message::Status
        )
    }
}

fn malformed(e: impl std::fmt::Display) -> OwnTracksError {
    OwnTracksError::Malformed(e.to_string())
}

fn type_of(v: &serde_json::Value) -> Result<&str, OwnTracksError> {
    v.get("_type")
        .and_then(|t| t.as_str())
        .ok_or_else(|| malformed("a JSON object with a string _type is required"))
}

/// Decode a request body from a device that holds `key`: the message must
/// be `encrypted` and decrypt with the key; its content is then parsed.
pub fn decode(body: &[u8], key: &str) -> Result<Message, OwnTracksError> {
    let outer: serde_json::Value = serde_json::from_slice(body).map_err(malformed)?;
    if type_of(&outer)? != "encrypted" {
        return Err(OwnTracksError::EncryptionRequired);
    }
    let data = outer
        .get("data")
        .and_then(|d| d.as_str())
        .ok_or_else(|| malformed("an encrypted message needs a string data"))?;
    let inner = decrypt(key, data)?;
    parse_message(&inner)
}

/// Parse a decrypted message (the plaintext inside the envelope).
pub fn parse_message(plaintext: &[u8]) -> Result<Message, OwnTracksError> {
    let value: serde_json::Value = serde_json::from_slice(plaintext).map_err(malformed)?;
    parse_plain(value)
}

/// Parse a decrypted message.
fn parse_plain(value: serde_json::Value) -> Result<Message, OwnTracksError> {
    let kind = type_of(&value)?.to_string();
    let tid = |v: &serde_json::Value| -> Result<String, OwnTracksError> {
        match v.get("tid").and_then(|t| t.as_str()).map(str::trim) {
            Some(t) if !t.is_empty() && t.chars().count() <= 8 => Ok(t.to_string()),
            _ => Err(OwnTracksError::MissingTid),
        }
    };
    match kind.as_str() {
        "encrypted" => Err(malformed(
            "an encrypted message inside an encrypted message",
        )),
        "location" => {
            tid(&value)?;
            let loc: Location = serde_json::from_value(value).map_err(malformed)?;
            Ok(Message::Location(loc))
        }
        "transition" => Ok(Message::Transition { tid: tid(&value)? }),
        "lwt" => Ok(Message::Lwt),
        "status" => Ok(Message::Status),
        _ => Ok(Message::Other(kind)),
    }
}

/// The largest accuracy still recorded as `gps`: OwnTracks does not say
/// which provider made a fix; satellite fixes are rarely worse than this,
/// network (Wi-Fi, cell) fixes rarely better.
const GPS_ACCURACY_M: f64 = 50.0;

/// Map an OwnTracks location onto a fix. seq = tst (see the module docs).
pub fn fix_of(loc: &Location) -> Result<FixInput, OwnTracksError> {
    if loc.tst < 1 {
        return Err(OwnTracksError::InvalidTst);
    }
    let seq = DeviceSeq::parse(loc.tst)?;
    let recorded_at = Timestamp::from_second(loc.tst).map_err(|_| OwnTracksError::InvalidTst)?;
    // OwnTracks omits `acc` when it is zero; the system's accuracy is at
    // least 1 m (as the PWA clamps it).
    let accuracy = match loc.acc {
        None => AccuracyM::parse(1.0)?,
        Some(a) if (0.0..1.0).contains(&a) => AccuracyM::parse(1.0)?,
        Some(a) => AccuracyM::parse(a)?,
    };
    Ok(FixInput {
        seq,
        position: Coordinates::parse(loc.lat, loc.lon)?,
        source: if accuracy.get() <= GPS_ACCURACY_M {
            FixSource::Gps
        } else {
            FixSource::Network
        },
        accuracy,
        recorded_at,
        mock_location: false,
        battery: loc.batt.map(BatteryPct::parse).transpose()?,
    })
}

/// What an OwnTracks request tells the "why data is missing" rules: the app
/// is running (a check-in at `now`), location works when a fix came, the
/// battery level and whether it charges (`batt`, `bs`), and the network
/// the fix was made on (`conn`: made offline, it waited on the phone).
/// OwnTracks delivers its queue itself, so nothing is left queued once a
/// request arrives; it has no web notifications.
pub fn checkin_of(msg: &Message, now: Timestamp) -> Checkin {
    let (location, battery_pct, charging, network) = match msg {
        Message::Location(l) => (
            Permission::Granted,
            l.batt
                .and_then(|b| u8::try_from(b).ok())
                .filter(|b| *b <= 100),
            charging_of(l.bs),
            l.conn.as_deref().and_then(network_of),
        ),
        _ => (Permission::Unsupported, None, None, None),
    };
    Checkin {
        at: now,
        location,
        notifications: Permission::Unsupported,
        queued_fixes: 0,
        geo_error: None,
        battery_pct,
        charging,
        network,
        client: CheckinClient::OwnTracks,
    }
}

/// OwnTracks `bs`: 1 unplugged, 2 charging, 3 full (on the charger);
/// 0 and anything else say nothing.
fn charging_of(bs: Option<i64>) -> Option<bool> {
    match bs? {
        1 => Some(false),
        2 | 3 => Some(true),
        _ => None,
    }
}

/// OwnTracks `conn`: w Wi-Fi, m mobile data, o offline.
fn network_of(conn: &str) -> Option<Network> {
    match conn {
        "w" => Some(Network::Wifi),
        "m" => Some(Network::Mobile),
        "o" => Some(Network::Offline),
        _ => None,
    }
}

/// SHA-256 of an HTTP Basic secret, as stored.
pub fn secret_hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Parse `Authorization: Basic …` into (user, secret).
pub fn basic_auth(header: Option<&str>) -> Result<(String, String), OwnTracksError> {
    let value = header.ok_or(OwnTracksError::AuthMissing)?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
        .ok_or(OwnTracksError::AuthMissing)?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| OwnTracksError::AuthFailed)?;
    let text = String::from_utf8(raw).map_err(|_| OwnTracksError::AuthFailed)?;
    let (user, secret) = text.split_once(':').ok_or(OwnTracksError::AuthFailed)?;
    Ok((user.to_string(), secret.to_string()))
}

/// Fresh credentials for a new OwnTracks device.
pub struct NewCredentials {
    pub device_id: String,
    /// HTTP Basic secret: 32 random bytes, base64url (43 characters).
    pub secret: String,
    /// Secretbox key string: 32 characters from [A-Za-z0-9] (about 190
    /// bits), so its UTF-8 bytes are exactly the 32 key bytes.
    pub key: String,
}

impl std::fmt::Debug for NewCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewCredentials")
            .field("device_id", &self.device_id)
            .field("secret", &"<redacted>")
            .field("key", &"<redacted>")
            .finish()
    }
}

pub fn new_credentials() -> NewCredentials {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let b64 = |raw: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    let mut id = [0u8; 16];
    rand::fill(&mut id);
    let mut secret = [0u8; 32];
    rand::fill(&mut secret);
    let key: String = (0..KEY_BYTES)
        .map(|_| {
            // Rejection sampling keeps every character equally likely.
            loop {
                let mut b = [0u8; 1];
                rand::fill(&mut b);
                if usize::from(b[0]) < 248 {
                    return ALPHABET[usize::from(b[0]) % ALPHABET.len()] as char;
                }
            }
        })
        .collect();
    NewCredentials {
        device_id: format!("dv_{}", b64(&id)),
        secret: b64(&secret),
        key,
    }
}

/// The remote configuration OwnTracks imports (`_type=configuration`).
///
/// Choices, for a migrant's phone: HTTP mode (`mode` 3) to this server with
/// Basic authentication and payload encryption; `monitoring` 1
/// ("significant changes", the battery-friendly automatic mode);
/// `locatorInterval` 900 s and `locatorDisplacement` 500 m so a moving
/// phone reports about every 15 minutes or 500 m; `locatorPriority` 2
/// (balanced power: Wi-Fi and cell, enough for region presence);
/// `ping` 60 (minutes, Android) so a phone lying still still reports every
/// hour, far inside the three-working-day window; extended data (`conn`) on;
/// start on boot; remote commands and friends off; settings `locked`.
pub fn configuration(url: &str, creds: &NewCredentials) -> serde_json::Value {
    serde_json::json!({
        "_type": "configuration",
        "mode": 3,
        "url": url,
        "auth": true,
        "username": creds.device_id,
        "password": creds.secret,
        "deviceId": DEVICE_NAME,
        "tid": TID,
        "encryptionKey": creds.key,
        "monitoring": 1,
        "locatorInterval": 900,
        "locatorDisplacement": 500,
        "locatorPriority": 2,
        "ping": 60,
        "extendedData": true,
        "pubExtendedData": true,
        "autostartOnBoot": true,
        "cmd": false,
        "remoteConfiguration": false,
        "allowRemoteLocation": false,
        "sub": false,
        "notificationLocation": false,
        "locked": true,
    })
}

/// `owntracks:///config?inline=<base64 of the JSON>`, the base64 made safe
/// for a query string by percent-encoding `+`, `/` and `=`.
pub fn config_link(config: &serde_json::Value) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(config.to_string());
    let escaped = b64
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    format!("owntracks:///config?inline={escaped}")
}

/// Decode a link made by [`config_link`] (tests, the simulator).
pub fn parse_config_link(link: &str) -> Option<serde_json::Value> {
    let inline = link.strip_prefix("owntracks:///config?inline=")?;
    let b64 = inline
        .replace("%2B", "+")
        .replace("%2F", "/")
        .replace("%3D", "=");
    let raw = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    serde_json::from_slice(&raw).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0123456789abcdefghijABCDEFGHIJ01";

    #[test]
    fn key_is_zero_padded_and_truncated() {
        let short = key_bytes("abc");
        assert_eq!(&short[..3], b"abc");
        assert!(short[3..].iter().all(|b| *b == 0));
        let long = key_bytes(&"x".repeat(40));
        assert_eq!(long, [b'x'; 32]);
    }

    #[test]
    fn a_sealed_message_opens_and_a_changed_one_does_not() {
        let data = encrypt(KEY, br#"{"_type":"lwt","tst":1}"#);
        assert_eq!(decrypt(KEY, &data).unwrap(), br#"{"_type":"lwt","tst":1}"#);
        let mut raw = base64::engine::general_purpose::STANDARD
            .decode(&data)
            .unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        let tampered = base64::engine::general_purpose::STANDARD.encode(raw);
        assert_eq!(
            decrypt(KEY, &tampered),
            Err(OwnTracksError::DecryptionFailed)
        );
        assert_eq!(
            decrypt("another key", &data),
            Err(OwnTracksError::DecryptionFailed)
        );
        assert_eq!(
            decrypt(KEY, "c2hvcnQ="),
            Err(OwnTracksError::DecryptionFailed)
        );
    }

    #[test]
    fn plain_messages_are_refused_and_tid_is_required() {
        let plain = br#"{"_type":"location","lat":55.75,"lon":37.61,"tst":1764342000,"tid":"AM"}"#;
        assert_eq!(decode(plain, KEY), Err(OwnTracksError::EncryptionRequired));
        let no_tid = format!(
            r#"{{"_type":"encrypted","data":"{}"}}"#,
            encrypt(
                KEY,
                br#"{"_type":"location","lat":55.75,"lon":37.61,"tst":1764342000}"#
            )
        );
        assert_eq!(
            decode(no_tid.as_bytes(), KEY),
            Err(OwnTracksError::MissingTid)
        );
    }

    #[test]
    fn a_documented_location_maps_to_a_fix() {
        // The example fields of the OwnTracks JSON documentation.
        let body = br#"{"_type":"location","acc":12,"alt":150,"batt":57,"bs":1,"conn":"m",
            "created_at":1764342005,"lat":55.7520,"lon":37.6175,"t":"p","tid":"AM",
            "tst":1764342000,"vac":3,"vel":0,"topic":"owntracks/u/phone","inregions":[]}"#;
        let wrapped = format!(r#"{{"_type":"encrypted","data":"{}"}}"#, encrypt(KEY, body));
        let Message::Location(loc) = decode(wrapped.as_bytes(), KEY).unwrap() else {
            panic!("a location");
        };
        assert_eq!(loc.t.as_deref(), Some("p"));
        assert_eq!(loc.bs, Some(1));
        assert_eq!(loc.conn.as_deref(), Some("m"));
        let fix = fix_of(&loc).unwrap();
        assert_eq!(fix.seq.get(), 1_764_342_000);
        assert_eq!(fix.recorded_at.as_second(), 1_764_342_000);
        assert_eq!(fix.accuracy.get(), 12.0);
        assert_eq!(fix.source, FixSource::Gps);
        assert_eq!(fix.battery.map(|b| b.get()), Some(57));
        let c = checkin_of(&Message::Location(loc.clone()), Timestamp::UNIX_EPOCH);
        assert_eq!(c.battery_pct, Some(57));
        assert_eq!(c.location, Permission::Granted);
        assert_eq!(c.charging, Some(false), "bs 1: unplugged");
        assert_eq!(c.network, Some(Network::Mobile), "conn m");
        assert_eq!(c.client, CheckinClient::OwnTracks);
        for (bs, charging) in [
            (0, None),
            (1, Some(false)),
            (2, Some(true)),
            (3, Some(true)),
            (9, None),
        ] {
            let l = Location {
                bs: Some(bs),
                ..loc.clone()
            };
            assert_eq!(
                checkin_of(&Message::Location(l), Timestamp::UNIX_EPOCH).charging,
                charging
            );
        }
        for (conn, network) in [
            ("w", Some(Network::Wifi)),
            ("o", Some(Network::Offline)),
            ("x", None),
        ] {
            let l = Location {
                conn: Some(conn.into()),
                ..loc.clone()
            };
            assert_eq!(
                checkin_of(&Message::Location(l), Timestamp::UNIX_EPOCH).network,
                network
            );
        }
        // No accuracy: at least 1 m. Out-of-range values are refused.
        let bare = Location {
            acc: None,
            ..loc.clone()
        };
        assert_eq!(fix_of(&bare).unwrap().accuracy.get(), 1.0);
        let bad = Location {
            lat: 91.0,
            ..loc.clone()
        };
        assert_eq!(fix_of(&bad).unwrap_err().code(), "invalid_latitude");
        let bad = Location { tst: 0, ..loc };
        assert_eq!(fix_of(&bad).unwrap_err().code(), "invalid_tst");
    }

    #[test]
    fn other_types_are_acknowledged_without_a_fix() {
        for (body, expect) in [
            (r#"{"_type":"lwt","tst":1764342000}"#, Message::Lwt),
            (r#"{"_type":"status","android":{}}"#, Message::Status),
            (
                r#"{"_type":"transition","event":"enter","tid":"AM","lat":55.7,"lon":37.6,"tst":1,"wtst":1,"acc":5}"#,
                Message::Transition { tid: "AM".into() },
            ),
            (
                r#"{"_type":"waypoints","waypoints":[]}"#,
                Message::Other("waypoints".into()),
            ),
        ] {
            let wrapped = format!(
                r#"{{"_type":"encrypted","data":"{}"}}"#,
                encrypt(KEY, body.as_bytes())
            );
            assert_eq!(decode(wrapped.as_bytes(), KEY).unwrap(), expect, "{body}");
        }
    }

    #[test]
    fn basic_auth_parses() {
        let h = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("dv_x:s3cret:with:colons")
        );
        assert_eq!(
            basic_auth(Some(&h)).unwrap(),
            ("dv_x".to_string(), "s3cret:with:colons".to_string())
        );
        assert_eq!(basic_auth(None), Err(OwnTracksError::AuthMissing));
        assert_eq!(
            basic_auth(Some("Bearer x")),
            Err(OwnTracksError::AuthMissing)
        );
    }

    #[test]
    fn credentials_and_the_link_round_trip() {
        let creds = new_credentials();
        assert_eq!(creds.key.len(), KEY_BYTES);
        assert!(creds.key.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(creds.secret.len(), 43);
        assert!(!format!("{creds:?}").contains(&creds.secret));
        let config = configuration("https://amina.example/v1/owntracks", &creds);
        let link = config_link(&config);
        assert!(!link["owntracks:///config?inline=".len()..].contains(['+', '/', '=']));
        assert_eq!(parse_config_link(&link).unwrap(), config);
    }
}
