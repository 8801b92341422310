//! The integration API with the federal migration system: wire types, the
//! sender's request signature, and a small client (tests, tools).
//!
//! # Signature: RFC 9421 with `hmac-sha256` and a shared key per sender
//!
//! Every integration request carries
//! - `Content-Digest: sha-256=:<base64>:` (RFC 9530) when it has a body;
//! - `Signature-Input: amina=("@method" "@path" "@query" "content-digest");created=<unix s>;keyid="<sender>";alg="hmac-sha256"`
//!   (without `"content-digest"` for requests without a body);
//! - `Signature: amina=:<base64 of the 32-byte HMAC-SHA256 tag>:`.
//!
//! The layout of the signature base is the device scheme's
//! ([`crate::proto`]) with `@query` added (RFC 9421 §2.2.7: `?` followed by
//! the query string, `?` alone when there is none), so the feed's cursor is
//! signed too. `keyid` names the sender; the key is a random secret of at
//! least 32 bytes shared with that sender out of band. A replayed request
//! changes nothing: events are idempotent by id and feed reads are reads.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sfv::{BareItem, FieldType, InnerList, Item, Key, ListEntry, Parameters};

use crate::proto::{content_digest, SignatureFormatError, CONTENT_DIGEST, SIGNATURE_LABEL};

pub const INTEGRATION_ALG: &str = "hmac-sha256";

/// The shortest shared key accepted, in bytes (the HMAC-SHA256 output size,
/// RFC 2104 §3).
pub const MIN_KEY_BYTES: usize = 32;

/// The parameters of one integration signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrationSignature {
    pub covers_digest: bool,
    pub created: i64,
    /// The sender's id.
    pub keyid: String,
}

impl IntegrationSignature {
    fn components(&self) -> Vec<&'static str> {
        let mut c = vec!["@method", "@path", "@query"];
        if self.covers_digest {
            c.push(CONTENT_DIGEST);
        }
        c
    }

    /// The serialized inner list (`@signature-params`).
    pub fn serialize(&self) -> String {
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
        params.insert(key("alg"), string_item(INTEGRATION_ALG));
        let list: sfv::List = vec![ListEntry::InnerList(InnerList::with_params(items, params))];
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
            ["@method", "@path", "@query"] => false,
            ["@method", "@path", "@query", CONTENT_DIGEST] => true,
            _ => return Err(SignatureFormatError::Components),
        };
        let param = |name: &str| inner.params.get(name);
        let created = param("created")
            .and_then(|v| v.as_integer())
            .map(i64::from)
            .ok_or(SignatureFormatError::Params)?;
        let keyid = param("keyid")
            .and_then(|v| v.as_string())
            .map(|s| s.as_str().to_string())
            .ok_or(SignatureFormatError::Params)?;
        let alg = param("alg")
            .and_then(|v| v.as_string())
            .map(|s| s.as_str().to_string())
            .ok_or(SignatureFormatError::Params)?;
        if alg != INTEGRATION_ALG || inner.params.len() != 3 {
            return Err(SignatureFormatError::Params);
        }
        Ok(IntegrationSignature {
            covers_digest,
            created,
            keyid,
        })
    }

    /// The RFC 9421 signature base. `query` is the raw query string without
    /// the `?` (empty when there is none).
    pub fn signature_base(
        &self,
        method: &str,
        path: &str,
        query: &str,
        content_digest: Option<&str>,
    ) -> String {
        let mut base = format!(
            "\"@method\": {}\n\"@path\": {}\n\"@query\": ?{}\n",
            method.to_ascii_uppercase(),
            path,
            query
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
    BareItem::String(sfv::String::from_string(s.to_string()).unwrap_or_else(|_| {
        sfv::String::from_string(String::new()).expect("empty string is valid")
    }))
}

/// HMAC-SHA256 of a signature base.
pub fn hmac_tag(key: &[u8], base: &str) -> Vec<u8> {
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    ring::hmac::sign(&k, base.as_bytes()).as_ref().to_vec()
}

/// Check a tag in constant time.
pub fn hmac_verify(key: &[u8], base: &str, tag: &[u8]) -> bool {
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    ring::hmac::verify(&k, base.as_bytes(), tag).is_ok()
}

/// Decode a shared key as configured (standard or URL-safe base64, padded
/// or not); None unless it decodes to at least [`MIN_KEY_BYTES`] bytes.
pub fn decode_key(b64: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let s = b64.trim();
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|e| e.decode(s).ok())
        .filter(|k| k.len() >= MIN_KEY_BYTES)
}

/// The headers that sign one request: (name, value) pairs.
pub fn sign_request(
    sender: &str,
    key: &[u8],
    method: &str,
    path: &str,
    query: &str,
    body: Option<&[u8]>,
    created: i64,
) -> Vec<(&'static str, String)> {
    let sig = IntegrationSignature {
        covers_digest: body.is_some(),
        created,
        keyid: sender.to_string(),
    };
    let digest = body.map(content_digest);
    let base = sig.signature_base(method, path, query, digest.as_deref());
    let tag = hmac_tag(key, &base);
    let mut headers = vec![
        ("signature-input", sig.header_value()),
        (
            "signature",
            format!(
                "{SIGNATURE_LABEL}=:{}:",
                base64::engine::general_purpose::STANDARD.encode(tag)
            ),
        ),
    ];
    if let Some(d) = digest {
        headers.push(("content-digest", d));
    }
    headers
}

// ---------------------------------------------------------------------------
// JSON bodies.

/// One inbound event. `type` decides which other fields it has:
/// `registered_in_region` needs `region` (ISO 3166-2, e.g. `RU-TVE`);
/// `card_reissued` needs `new_card_number` and `new_card_valid_until`;
/// `left_country` and `document_invalidated` need neither.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "event_id": "fms-2025-12-01-000123",
    "type": "registered_in_region",
    "occurred_at": "2025-12-01T07:30:00Z",
    "card_number": "AB0000001",
    "region": "RU-TVE"
}))]
pub struct EventWire {
    /// The sender's unique id of the event (1–128 of `A-Z a-z 0-9 . _ : -`).
    pub event_id: String,
    /// `registered_in_region`, `left_country`, `document_invalidated` or
    /// `card_reissued`.
    #[serde(rename = "type")]
    pub kind: String,
    /// When it happened (RFC 3339).
    pub occurred_at: String,
    /// The foreign citizen card the event is about (for a reissue: the old card).
    pub card_number: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_card_number: Option<String>,
    /// YYYY-MM-DD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_card_valid_until: Option<String>,
}

/// The answer to a delivered event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({
    "event_id": "fms-2025-12-01-000123",
    "duplicate": false,
    "status": "applied",
    "outcome": "deregistered",
    "explanation": "the registration in the pilot region ended",
    "received_at": "2025-12-01T08:00:00Z",
    "decided_at": "2025-12-01T08:00:00Z"
}))]
pub struct EventReceipt {
    pub event_id: String,
    /// The event had been received before; nothing was applied again.
    pub duplicate: bool,
    /// `applied`, `no_change` or `unknown_person` (kept and reported to
    /// officers; applied when the person becomes known and it is replayed).
    pub status: String,
    /// What became of it, e.g. `deregistered`, `card_replaced`,
    /// `registered_in_pilot`, `older_than_registration`, `unknown_person`.
    pub outcome: String,
    pub explanation: String,
    pub received_at: String,
    pub decided_at: String,
}

/// One published change for the federal system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FeedEntryWire {
    /// The cursor: pass the last one seen as `after`.
    pub position: i64,
    /// `registration`, `place_of_stay` or `deregistration`.
    pub kind: String,
    pub card_number: String,
    /// When the change took effect (RFC 3339).
    pub occurred_at: String,
    pub published_at: String,
    /// Kind-specific details: registration id and start; the notice's address
    /// id and start date; the deregistration's reason and evidence source.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({
    "entries": [{
        "position": 41,
        "kind": "deregistration",
        "card_number": "AB0000001",
        "occurred_at": "2025-12-03T20:59:59.999Z",
        "published_at": "2025-12-04T00:00:30Z",
        "details": {"registration_id": 7, "reason": "no_monitoring",
                    "effective_at": "2025-12-03T20:59:59.999Z",
                    "decided_by": "rule:no_monitoring",
                    "rule_version": "monitoring-window/1; 3 working days; calendar 2024-2027"}
    }],
    "next_after": 41,
    "has_more": false
}))]
pub struct FeedPage {
    pub entries: Vec<FeedEntryWire>,
    /// Pass as `after` for the next page (unchanged when the page is empty).
    pub next_after: i64,
    /// More entries are already waiting.
    pub has_more: bool,
}

/// A delivery refused for its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RejectionWire {
    pub event_id: Option<String>,
    pub received_at: String,
    pub error: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RejectionsPage {
    pub rejections: Vec<RejectionWire>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_input_round_trips_and_covers_the_query() {
        let s = IntegrationSignature {
            covers_digest: true,
            created: 1_700_000_000,
            keyid: "fms".into(),
        };
        assert_eq!(
            s.header_value(),
            r#"amina=("@method" "@path" "@query" "content-digest");created=1700000000;keyid="fms";alg="hmac-sha256""#
        );
        assert_eq!(IntegrationSignature::parse(&s.header_value()).unwrap(), s);
        let base = s.signature_base("post", "/v1/integration/events", "", Some("sha-256=:X:"));
        assert!(base.starts_with(
            "\"@method\": POST\n\"@path\": /v1/integration/events\n\"@query\": ?\n\"content-digest\": sha-256=:X:\n"
        ));
        // A device signature is not an integration signature.
        assert!(IntegrationSignature::parse(
            r#"amina=("@method" "@path");created=1;keyid="k";alg="ecdsa-p256-sha256""#
        )
        .is_err());
    }

    #[test]
    fn hmac_tags_verify_only_with_the_key_and_the_same_base() {
        let key = [7u8; 32];
        let tag = hmac_tag(&key, "base");
        assert_eq!(tag.len(), 32);
        assert!(hmac_verify(&key, "base", &tag));
        assert!(!hmac_verify(&key, "base2", &tag));
        assert!(!hmac_verify(&[8u8; 32], "base", &tag));
    }

    #[test]
    fn keys_must_be_long_enough() {
        let k = base64::engine::general_purpose::STANDARD.encode([1u8; 32]);
        assert_eq!(decode_key(&k).unwrap().len(), 32);
        let short = base64::engine::general_purpose::STANDARD.encode([1u8; 16]);
        assert!(decode_key(&short).is_none());
        assert!(decode_key("not base64!").is_none());
    }
}
