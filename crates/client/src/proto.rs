//! Wire types and the request-signature scheme.
//!
//! # Proof of key possession: RFC 9421 HTTP Message Signatures
//!
//! Every device request carries
//! - `Content-Digest: sha-256=:<base64>:` (RFC 9530) when it has a body;
//! - `Signature-Input: amina=("@method" "@path" "content-digest");created=<unix s>;keyid="<id>";alg="ecdsa-p256-sha256"`
//!   (without `"content-digest"` for requests without a body);
//! - `Signature: amina=:<base64 of the 64-byte r||s ECDSA P-256 SHA-256 signature>:`.
//!
//! `keyid` is the device id the server assigned at binding; on the binding
//! request itself, where no device id exists yet, it is the RFC 7638
//! thumbprint of the key being bound, so the server checks that the caller
//! holds that key. The signature covers method, path, body digest and the
//! creation time; the server refuses signatures whose `created` lies outside
//! its clock-skew allowance. Replaying a captured upload is harmless: fixes
//! are idempotent by (device, seq), so a replay stores nothing new.
//!
//! Inside a device session (see [`crate::session`]) the same headers carry
//! `keyid="<session id>";alg="hmac-sha256";nonce="<random>"` and a 32-byte
//! HMAC-SHA256 tag over the same signature base. The nonce makes every tag
//! unique, as ECDSA's randomness does for signatures, so that two equal
//! requests in one second are not taken for a replay.
//!
//! We chose RFC 9421 over DPoP (RFC 9449) because it signs the body digest
//! directly (DPoP binds a token, not the payload) and WebCrypto's ECDSA
//! output (IEEE P1363 r||s) is exactly the RFC 9421 `ecdsa-p256-sha256`
//! encoding, so the phone needs no DER conversion.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sfv::{BareItem, FieldType, InnerList, Item, Key, ListEntry, Parameters};

pub const SIGNATURE_LABEL: &str = "amina";
pub const SIGNATURE_ALG: &str = "ecdsa-p256-sha256";
/// The algorithm of requests authenticated inside a device session (see
/// [`crate::session`]): HMAC-SHA256 with the session's key, over the same
/// signature base.
pub const SESSION_ALG: &str = "hmac-sha256";
pub const CONTENT_DIGEST: &str = "content-digest";
pub const SIGNATURE_INPUT: &str = "signature-input";
pub const SIGNATURE: &str = "signature";

/// `Content-Digest` value of a body: `sha-256=:<base64>:`.
pub fn content_digest(body: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, body);
    format!(
        "sha-256=:{}:",
        base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
    )
}

/// The covered components and parameters of one signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureParams {
    pub covers_digest: bool,
    pub created: i64,
    pub keyid: String,
    pub alg: String,
    /// RFC 9421 `nonce`: required inside a session, where the tag is
    /// deterministic (two equal requests in the same second would carry
    /// equal tags and the second would read as a replay); absent with a
    /// device signature, which is randomised already.
    pub nonce: Option<String>,
}

/// Longest `nonce` accepted, in characters.
pub const MAX_NONCE_CHARS: usize = 64;

/// Why a signature header could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureFormatError {
    #[error("Signature-Input is not a structured dictionary with an `amina` inner list")]
    Input,
    #[error("Signature is not a structured dictionary with an `amina` byte sequence")]
    Signature,
    #[error("the signature must cover exactly \"@method\" \"@path\" and, with a body, \"content-digest\"")]
    Components,
    #[error("the signature parameters need created, keyid and alg=\"ecdsa-p256-sha256\", or with alg=\"hmac-sha256\" also a nonce of 1 to 64 characters")]
    Params,
}

impl SignatureParams {
    fn components(&self) -> Vec<&'static str> {
        let mut c = vec!["@method", "@path"];
        if self.covers_digest {
            c.push(CONTENT_DIGEST);
        }
        c
    }

    fn inner_list(&self) -> InnerList {
        let items = self
            .components()
            .into_iter()
            .map(|c| {
                Item::new(BareItem::String(
                    sfv::String::from_string(c.to_string())
                        .expect("component names are plain ASCII"),
                ))
            })
            .collect();
        let mut params = Parameters::new();
        params.insert(
            key("created"),
            BareItem::Integer(
                sfv::Integer::try_from(self.created).unwrap_or(sfv::Integer::constant(0)),
            ),
        );
        params.insert(key("keyid"), string_item(&self.keyid));
        params.insert(key("alg"), string_item(&self.alg));
        if let Some(nonce) = &self.nonce {
            params.insert(key("nonce"), string_item(nonce));
        }
        InnerList::with_params(items, params)
    }

    /// The serialized inner list: the value of `@signature-params` and of
    /// the `Signature-Input` member.
    pub fn serialize(&self) -> String {
        let list: sfv::List = vec![ListEntry::InnerList(self.inner_list())];
        list.serialize().unwrap_or_default()
    }

    /// `Signature-Input` header value.
    pub fn header_value(&self) -> String {
        format!("{SIGNATURE_LABEL}={}", self.serialize())
    }

    /// Parse a `Signature-Input` header value.
    pub fn parse(header: &str) -> Result<Self, SignatureFormatError> {
        let dict: sfv::Dictionary = sfv::Parser::new(header)
            .parse()
            .map_err(|_| SignatureFormatError::Input)?;
        let Some(ListEntry::InnerList(inner)) = dict.get(SIGNATURE_LABEL) else {
            return Err(SignatureFormatError::Input);
        };
        let names: Vec<&str> = inner
            .items
            .iter()
            .map(|i| i.bare_item.as_string().map(|s| s.as_str()))
            .collect::<Option<_>>()
            .ok_or(SignatureFormatError::Components)?;
        let covers_digest = match names.as_slice() {
            ["@method", "@path"] => false,
            ["@method", "@path", CONTENT_DIGEST] => true,
            _ => return Err(SignatureFormatError::Components),
        };
        let created = inner
            .params
            .get("created")
            .and_then(|v| v.as_integer())
            .map(i64::from)
            .ok_or(SignatureFormatError::Params)?;
        let keyid = inner
            .params
            .get("keyid")
            .and_then(|v| v.as_string())
            .map(|s| s.as_str().to_string())
            .ok_or(SignatureFormatError::Params)?;
        let alg = inner
            .params
            .get("alg")
            .and_then(|v| v.as_string())
            .map(|s| s.as_str().to_string())
            .ok_or(SignatureFormatError::Params)?;
        let nonce = match inner.params.get("nonce") {
            None => None,
            Some(v) => Some(
                v.as_string()
                    .map(|s| s.as_str().to_string())
                    .ok_or(SignatureFormatError::Params)?,
            ),
        };
        let nonce_ok = match (alg.as_str(), &nonce) {
            (SIGNATURE_ALG, None) => true,
            (SESSION_ALG, Some(n)) => (1..=MAX_NONCE_CHARS).contains(&n.len()),
            _ => false,
        };
        if !nonce_ok || inner.params.len() != 3 + usize::from(nonce.is_some()) {
            return Err(SignatureFormatError::Params);
        }
        Ok(SignatureParams {
            covers_digest,
            created,
            keyid,
            alg,
            nonce,
        })
    }

    /// Whether the request is authenticated with a session key (`keyid` is
    /// then a session id) rather than signed with the device key.
    pub fn uses_session(&self) -> bool {
        self.alg == SESSION_ALG
    }

    /// The RFC 9421 signature base for a request.
    pub fn signature_base(&self, method: &str, path: &str, content_digest: Option<&str>) -> String {
        let mut base = format!(
            "\"@method\": {}\n\"@path\": {}\n",
            method.to_ascii_uppercase(),
            path
        );
        if self.covers_digest {
            base.push_str(&format!(
                "\"content-digest\": {}\n",
                content_digest.unwrap_or("")
            ));
        }
        base.push_str(&format!("\"@signature-params\": {}", self.serialize()));
        base
    }
}

fn key(name: &str) -> Key {
    Key::from_string(name.to_string()).expect("parameter names are lowercase ASCII")
}

fn string_item(s: &str) -> BareItem {
    // Key ids and algorithm names are printable ASCII by construction
    // (device ids, base64url thumbprints); anything else becomes empty and
    // fails verification.
    BareItem::String(sfv::String::from_string(s.to_string()).unwrap_or_else(|_| {
        sfv::String::from_string(String::new()).expect("empty string is valid")
    }))
}

/// `Signature` header value for a raw signature.
pub fn signature_header(signature: &[u8]) -> String {
    format!(
        "{SIGNATURE_LABEL}=:{}:",
        base64::engine::general_purpose::STANDARD.encode(signature)
    )
}

/// Parse a `Signature` header value into the raw signature bytes.
pub fn parse_signature_header(header: &str) -> Result<Vec<u8>, SignatureFormatError> {
    let dict: sfv::Dictionary = sfv::Parser::new(header)
        .parse()
        .map_err(|_| SignatureFormatError::Signature)?;
    match dict.get(SIGNATURE_LABEL) {
        Some(ListEntry::Item(item)) => item
            .bare_item
            .as_byte_sequence()
            .map(|b| b.to_vec())
            .ok_or(SignatureFormatError::Signature),
        _ => Err(SignatureFormatError::Signature),
    }
}

// ---------------------------------------------------------------------------
// JSON bodies.

/// A P-256 public key as a JWK (RFC 7517/7518), as WebCrypto exports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PublicJwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub y: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolRequest {
    pub card_number: String,
    pub activation_secret: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EnrolResponse {
    pub binding_token: String,
    pub binding_token_expires_at: String,
    pub new_registration: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BindRequest {
    pub binding_token: String,
    pub public_key: PublicJwk,
    #[serde(default)]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BindResponse {
    pub device_id: String,
    pub bound_at: String,
    pub status: StatusView,
}

/// One fix on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FixWire {
    #[serde(deserialize_with = "crate::json_int::whole")]
    pub seq: i64,
    pub lat: f64,
    pub lon: f64,
    pub accuracy_m: f64,
    /// RFC 3339 instant the phone recorded the fix.
    pub recorded_at: String,
    /// "gps" or "network".
    pub source: String,
    #[serde(default)]
    pub mock: bool,
    #[serde(default, deserialize_with = "crate::json_int::optional_whole")]
    pub battery_pct: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FixBatch {
    pub fixes: Vec<FixWire>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IngestResponse {
    /// Sequence numbers stored by this request.
    pub accepted: Vec<u64>,
    /// Sequence numbers that were already stored (a retry): also safe to
    /// drop from the phone's queue.
    pub duplicates: Vec<u64>,
    /// Accepted fixes flagged as implausible (kept, counted as monitoring).
    pub flagged: Vec<u64>,
    pub status: StatusView,
}

/// What a person (and their phone) sees of their registration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StatusView {
    /// "registered" or "deregistered".
    pub status: String,
    pub registered: bool,
    pub registration_started_at: String,
    pub last_monitoring_at: Option<String>,
    /// Inclusive last instant (UTC) by which the next fix must arrive.
    pub deadline_at: Option<String>,
    /// The same deadline in Moscow time, for display.
    pub deadline_moscow: Option<String>,
    /// "unknown", "in_region", "outside" or "uncertain".
    pub presence: String,
    pub presence_since: Option<String>,
    /// For a deregistered person, why.
    pub deregistration_reason: Option<String>,
    /// The deadline in words per language code ("ru", "en", "uz", "tg",
    /// "ky"), e.g. "until the end of Wednesday, 3 December"; only while
    /// registered. Older servers do not send it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_text: Option<std::collections::BTreeMap<String, String>>,
    /// The place-of-stay notice in force, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place_of_stay: Option<crate::stay::NoticeView>,
    /// When the app last checked in (RFC 3339), if it ever did. Older
    /// servers do not send it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_checkin_at: Option<String>,
    /// The kind of the person's active device, the one that reports
    /// location: `pwa` or `owntracks` (then the app does not report itself).
    /// Sent with `GET /v1/me/status` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reporting_device: Option<String>,
}

/// Every error response: a stable machine-readable code and a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_input_round_trips() {
        let p = SignatureParams {
            covers_digest: true,
            created: 1_700_000_000,
            keyid: "dv_abc".into(),
            alg: SIGNATURE_ALG.into(),
            nonce: None,
        };
        let header = p.header_value();
        assert_eq!(
            header,
            r#"amina=("@method" "@path" "content-digest");created=1700000000;keyid="dv_abc";alg="ecdsa-p256-sha256""#
        );
        assert_eq!(SignatureParams::parse(&header).unwrap(), p);
    }

    #[test]
    fn session_params_carry_a_nonce_and_round_trip() {
        let p = SignatureParams {
            covers_digest: false,
            created: 1_700_000_000,
            keyid: "ds_abc".into(),
            alg: SESSION_ALG.into(),
            nonce: Some("n0".into()),
        };
        let header = p.header_value();
        assert_eq!(
            header,
            r#"amina=("@method" "@path");created=1700000000;keyid="ds_abc";alg="hmac-sha256";nonce="n0""#
        );
        assert_eq!(SignatureParams::parse(&header).unwrap(), p);
        let long = format!(
            r#"amina=("@method" "@path");created=1;keyid="k";alg="hmac-sha256";nonce="{}""#,
            "n".repeat(MAX_NONCE_CHARS + 1)
        );
        assert!(SignatureParams::parse(&long).is_err());
    }

    #[test]
    fn signature_base_matches_rfc9421_layout() {
        let p = SignatureParams {
            covers_digest: true,
            created: 1,
            keyid: "k".into(),
            alg: SIGNATURE_ALG.into(),
            nonce: None,
        };
        let base = p.signature_base("post", "/v1/fixes", Some("sha-256=:X:"));
        assert_eq!(
            base,
            "\"@method\": POST\n\"@path\": /v1/fixes\n\"content-digest\": sha-256=:X:\n\"@signature-params\": (\"@method\" \"@path\" \"content-digest\");created=1;keyid=\"k\";alg=\"ecdsa-p256-sha256\""
        );
    }

    #[test]
    fn refuses_other_components_and_algorithms() {
        let bad = [
            r#"amina=("@method");created=1;keyid="k";alg="ecdsa-p256-sha256""#,
            r#"amina=("@method" "@path");created=1;keyid="k";alg="rsa-pss-sha512""#,
            r#"amina=("@method" "@path");keyid="k";alg="ecdsa-p256-sha256""#,
            r#"other=("@method" "@path");created=1;keyid="k";alg="ecdsa-p256-sha256""#,
            r#"amina=("@method" "@path");created=1;keyid="k";alg="ecdsa-p256-sha256";nonce="x""#,
            r#"amina=("@method" "@path");created=1;keyid="k";alg="hmac-sha256""#,
            r#"amina=("@method" "@path");created=1;keyid="k";alg="hmac-sha256";nonce="""#,
            r#"amina=("@method" "@path");created=1;keyid="k";alg="hmac-sha256";nonce=7"#,
            r#"amina=("@method" "@path");created=1;keyid="k";alg="hmac-sha256";nonce="x";tag="t""#,
            "garbage((",
        ];
        for b in bad {
            assert!(SignatureParams::parse(b).is_err(), "{b}");
        }
    }

    #[test]
    fn content_digest_of_empty_body() {
        // SHA-256 of the empty string, base64: 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=
        assert_eq!(
            content_digest(b""),
            "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"
        );
    }

    #[test]
    fn signature_header_round_trips() {
        let sig = [7u8; 64];
        assert_eq!(
            parse_signature_header(&signature_header(&sig)).unwrap(),
            sig
        );
        assert!(parse_signature_header("amina=\"text\"").is_err());
    }
}
