//! The served OpenAPI document: the one derived from the handlers and wire
//! types, plus the limits the server enforces on every input.
//!
//! A client generated from the document, or a tester reading it, must be
//! able to tell a request the server will take from one it will refuse for
//! its form alone. The derive macros only know Rust types; the limits live
//! beside their parsers (domain constants and patterns) and in the
//! configuration (batch size, feed page size). They are written into the
//! document here, from those same constants and the running configuration,
//! so the document cannot drift from what is enforced. The tests below
//! check each documented limit against the parser that enforces it, on
//! both sides of the boundary.
//!
//! What no JSON Schema can state stays in prose and in the per-operation
//! list of refusal reasons: times relative to now or to the registration,
//! the production calendar's years, the device's sequence history, whether
//! a card, code or address exists.

use amina_domain::enrolment_code::EnrolmentCode;
use amina_domain::integration::{EventId, EventKind, RegionCode};
use amina_domain::reminders::Permission;
use amina_domain::stay::{AddressId, HostName, MAX_TEXT_CHARS};
use amina_domain::types::{AccuracyM, BatteryPct, CardNumber, DeviceSeq, FixSource};
use serde_json::{json, Map, Value};
use utoipa::OpenApi;

use super::enrol::MAX_SECRET_CHARS;
use super::integration::MAX_REJECTIONS_LIMIT;
use super::push::{MAX_ENDPOINT_LEN, MAX_QUEUED_FIXES};
use super::stay::MAX_QUERY_CHARS;
use crate::config::Config;

/// A base64url string of `bytes` bytes without padding, as the strict
/// decoder reads it: the unused low bits of the last symbol are zero.
/// `lead` is a pattern for the first `lead_symbols` symbols, when the first
/// bits are fixed.
fn base64url_pattern(bytes: usize, lead: &str, lead_symbols: usize) -> String {
    let symbols = (bytes * 8).div_ceil(6);
    let last = match (bytes * 8) % 6 {
        0 => "[A-Za-z0-9_-]",
        // 4 bits used, 2 unused: every fourth symbol.
        4 => "[AEIMQUYcgkosw048]",
        // 2 bits used, 4 unused: every sixteenth symbol.
        _ => "[AQgw]",
    };
    let inner = symbols - 1 - lead_symbols;
    format!("{lead}[A-Za-z0-9_-]{{{inner}}}{last}")
}

/// An https URL the server takes as a push endpoint: a DNS name whose
/// last label starts with a letter (no IP literal, no punycode label), an
/// optional port, a path and a query; no credentials, no fragment. With
/// `loopback`, `http://localhost` and `http://127.0.0.1` too (for tests).
fn endpoint_pattern(loopback: bool) -> String {
    let label = "[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*";
    let top = "[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*";
    let rest = "(?::[0-9]{1,4})?(?:/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?(?:[?][A-Za-z0-9._~!$&'()*+,;=:@%/?-]*)?";
    if loopback {
        format!("^(?:https://(?:{label}[.])*{top}|http://(?:localhost|127[.]0[.]0[.]1)){rest}$")
    } else {
        format!("^https://(?:{label}[.])*{top}{rest}$")
    }
}

/// The document `GET /openapi.json` serves for this configuration.
pub fn document(config: &Config) -> Value {
    let mut doc = serde_json::to_value(super::ApiDoc::openapi())
        .expect("invariant: the derived document serialises");
    let card = CardNumber::pattern();
    let date_time = json!({"type": "string", "format": "date-time"});
    let date = json!({"type": "string", "format": "date"});

    // Enrolment.
    constrain(
        &mut doc,
        "EnrolRequest",
        "card_number",
        json!({"pattern": card}),
    );
    constrain(
        &mut doc,
        "EnrolRequest",
        "activation_secret",
        json!({"minLength": 1, "maxLength": MAX_SECRET_CHARS}),
    );
    constrain(
        &mut doc,
        "CodeEnrolRequest",
        "code",
        json!({"pattern": EnrolmentCode::PATTERN}),
    );

    // Binding: a P-256 key as WebCrypto exports it.
    constrain(&mut doc, "PublicJwk", "kty", json!({"enum": ["EC"]}));
    constrain(&mut doc, "PublicJwk", "crv", json!({"enum": ["P-256"]}));
    let coordinate = format!("^{}$", base64url_pattern(32, "", 0));
    constrain(&mut doc, "PublicJwk", "x", json!({"pattern": coordinate}));
    constrain(&mut doc, "PublicJwk", "y", json!({"pattern": coordinate}));
    constrain(
        &mut doc,
        "BindRequest",
        "kind",
        json!({"enum": ["pwa", null]}),
    );

    // Fixes.
    constrain(
        &mut doc,
        "FixBatch",
        "fixes",
        json!({"minItems": 1, "maxItems": config.ingest.max_batch_fixes}),
    );
    constrain(
        &mut doc,
        "FixWire",
        "seq",
        json!({"minimum": 1, "maximum": DeviceSeq::MAX}),
    );
    constrain(
        &mut doc,
        "FixWire",
        "lat",
        json!({"minimum": -90, "maximum": 90}),
    );
    constrain(
        &mut doc,
        "FixWire",
        "lon",
        json!({"minimum": -180, "maximum": 180}),
    );
    constrain(
        &mut doc,
        "FixWire",
        "accuracy_m",
        json!({"exclusiveMinimum": 0, "maximum": AccuracyM::MAX}),
    );
    constrain(&mut doc, "FixWire", "recorded_at", date_time);
    let sources: Vec<&str> = FixSource::ALL.iter().map(|s| s.as_str()).collect();
    constrain(&mut doc, "FixWire", "source", json!({"enum": sources}));
    let battery = json!({"minimum": 0, "maximum": BatteryPct::MAX});
    constrain(&mut doc, "FixWire", "battery_pct", battery.clone());

    // Place of stay.
    constrain(
        &mut doc,
        "NoticeRequest",
        "address_id",
        json!({"pattern": AddressId::pattern()}),
    );
    constrain(&mut doc, "NoticeRequest", "date_from", date);
    constrain(
        &mut doc,
        "NoticeRequest",
        "host_name",
        json!({"maxLength": MAX_TEXT_CHARS, "pattern": HostName::PATTERN}),
    );
    constrain_param(
        &mut doc,
        "/v1/addresses",
        "q",
        json!({"minLength": 2, "maxLength": MAX_QUERY_CHARS}),
    );

    // Push and check-ins.
    constrain(
        &mut doc,
        "PushSubscriptionRequest",
        "endpoint",
        json!({
            "maxLength": MAX_ENDPOINT_LEN,
            "pattern": endpoint_pattern(config.push.allow_loopback_http),
        }),
    );
    // An uncompressed point starts with 0x04 (000001 00…): `B`, then a
    // symbol whose top two bits are zero.
    constrain(
        &mut doc,
        "PushSubscriptionKeys",
        "p256dh",
        json!({"pattern": format!("^{}=*$", base64url_pattern(65, "B[A-P]", 2))}),
    );
    constrain(
        &mut doc,
        "SessionRequest",
        "ecdh_public",
        json!({"pattern": format!("^{}$", base64url_pattern(65, "B[A-P]", 2))}),
    );
    constrain(
        &mut doc,
        "PushSubscriptionKeys",
        "auth",
        json!({"pattern": format!("^{}=*$", base64url_pattern(16, "", 0))}),
    );
    constrain(
        &mut doc,
        "PushSubscriptionRequest",
        "lang",
        json!({"enum": crate::i18n::LANGS}),
    );
    let permissions: Vec<&str> = Permission::ALL.iter().map(|p| p.as_str()).collect();
    constrain(
        &mut doc,
        "CheckinRequest",
        "location",
        json!({"enum": permissions}),
    );
    constrain(
        &mut doc,
        "CheckinRequest",
        "notifications",
        json!({"enum": permissions}),
    );
    constrain(
        &mut doc,
        "CheckinRequest",
        "queued_fixes",
        json!({"minimum": 0, "maximum": MAX_QUEUED_FIXES}),
    );
    constrain(
        &mut doc,
        "CheckinRequest",
        "geo_error",
        json!({"enum": [1, 2, 3, null]}),
    );
    constrain(&mut doc, "CheckinRequest", "battery_pct", battery);

    // The federal migration system.
    doc["components"]["schemas"]["EventWire"] = event_schema(&doc, &card);
    constrain_param(
        &mut doc,
        "/v1/integration/feed",
        "after",
        json!({"minimum": 0}),
    );
    constrain_param(
        &mut doc,
        "/v1/integration/feed",
        "limit",
        json!({"minimum": 1, "maximum": config.integration.feed_max_limit.max(1)}),
    );
    constrain_param(
        &mut doc,
        "/v1/integration/rejections",
        "limit",
        json!({"minimum": 1, "maximum": MAX_REJECTIONS_LIMIT}),
    );
    doc
}

/// An event as one of its four forms: each type names the fields it needs
/// and allows the others only as `null`.
fn event_schema(doc: &Value, card: &str) -> Value {
    let derived = &doc["components"]["schemas"]["EventWire"];
    let common = json!({
        "event_id": {"type": "string", "pattern": EventId::PATTERN,
            "description": "The sender's unique id of the event."},
        "occurred_at": {"type": "string", "format": "date-time",
            "description": "When it happened (RFC 3339); not in the future, on a day the production calendar covers."},
        "card_number": {"type": "string", "pattern": card,
            "description": "The foreign citizen card the event is about (for a reissue: the old card)."},
    });
    let absent = json!({"type": "null"});
    let fields = |kind: EventKind| -> (Map<String, Value>, Vec<&str>) {
        let mut props = common.as_object().cloned().unwrap_or_default();
        props.insert(
            "type".into(),
            json!({"type": "string", "enum": [kind.code()]}),
        );
        for name in ["region", "new_card_number", "new_card_valid_until"] {
            props.insert(name.into(), absent.clone());
        }
        let mut required = vec!["event_id", "type", "occurred_at", "card_number"];
        match kind {
            EventKind::RegisteredInRegion => {
                props.insert(
                    "region".into(),
                    json!({"type": "string", "pattern": RegionCode::PATTERN,
                        "description": "ISO 3166-2 code of the region, e.g. `RU-TVE`."}),
                );
                required.push("region");
            }
            EventKind::CardReissued => {
                props.insert(
                    "new_card_number".into(),
                    json!({"type": "string", "pattern": card,
                        "description": "The new card; not the old one."}),
                );
                props.insert(
                    "new_card_valid_until".into(),
                    json!({"type": "string", "format": "date"}),
                );
                required.extend(["new_card_number", "new_card_valid_until"]);
            }
            EventKind::LeftCountry | EventKind::DocumentInvalidated => {}
        }
        (props, required)
    };
    let forms: Vec<Value> = EventKind::ALL
        .into_iter()
        .map(|kind| {
            let (props, required) = fields(kind);
            json!({
                "type": "object",
                "title": kind.code(),
                "properties": props,
                "required": required,
                "additionalProperties": false,
            })
        })
        .collect();
    let mut schema = json!({"oneOf": forms});
    for keep in ["description", "example", "examples"] {
        if let Some(v) = derived.get(keep) {
            schema[keep] = v.clone();
        }
    }
    schema
}

/// Add `limits` to the schema of `property` of the component `schema`.
/// Panics when the document has no such property: a renamed field must
/// not silently lose its limits (the tests serve the document).
fn constrain(doc: &mut Value, schema: &str, property: &str, limits: Value) {
    let target = doc
        .pointer_mut(&format!(
            "/components/schemas/{schema}/properties/{property}"
        ))
        .unwrap_or_else(|| panic!("invariant: the document has {schema}.{property}"));
    merge(target, limits);
}

/// Add `limits` to the schema of the query parameter `name` of `GET path`.
fn constrain_param(doc: &mut Value, path: &str, name: &str, limits: Value) {
    let params = doc["paths"][path]["get"]["parameters"]
        .as_array_mut()
        .unwrap_or_else(|| panic!("invariant: GET {path} has parameters"));
    let param = params
        .iter_mut()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("invariant: GET {path} has the parameter {name}"));
    merge(&mut param["schema"], limits);
}

fn merge(target: &mut Value, limits: Value) {
    let (Some(target), Value::Object(limits)) = (target.as_object_mut(), limits) else {
        panic!("invariant: schemas and limits are objects");
    };
    target.extend(limits);
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::Regex;

    fn doc() -> Value {
        document(&Config::default())
    }

    fn property(doc: &Value, schema: &str, name: &str) -> Value {
        doc.pointer(&format!("/components/schemas/{schema}/properties/{name}"))
            .cloned()
            .unwrap_or_else(|| panic!("{schema}.{name} in the document"))
    }

    fn pattern_of(v: &Value) -> Regex {
        Regex::new(v["pattern"].as_str().expect("a pattern")).expect("a valid pattern")
    }

    /// Strings near the boundary of the usual inputs: letters, digits,
    /// separators, whitespace of every kind, controls, non-ASCII, at many
    /// lengths; deterministic.
    fn samples(alphabet: &[char], lens: std::ops::Range<usize>, n: usize) -> Vec<String> {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        (0..n)
            .map(|_| {
                let len = lens.start + (next() as usize) % (lens.end - lens.start);
                (0..len)
                    .map(|_| alphabet[(next() as usize) % alphabet.len()])
                    .collect()
            })
            .collect()
    }

    fn alphabet(extra: &str) -> Vec<char> {
        let mut a: Vec<char> =
            "aAbZuUoOiIlL09-_.: \t\n\u{85}\u{a0}\u{3000}\u{1c}\u{0}\u{7f}\u{9f}ж?"
                .chars()
                .collect();
        a.extend(extra.chars());
        a
    }

    /// The documented pattern and the parser agree on every sample.
    fn agree(what: &str, re: &Regex, inputs: &[String], accepts: impl Fn(&str) -> bool) {
        for s in inputs {
            assert_eq!(
                re.is_match(s),
                accepts(s),
                "{what}: the pattern and the parser disagree on {s:?}"
            );
        }
    }

    #[test]
    fn documented_patterns_accept_exactly_what_the_parsers_accept() {
        let d = doc();
        let card = pattern_of(&property(&d, "EnrolRequest", "card_number"));
        let mut inputs = samples(&alphabet("0123456789ABCDEF"), 0..30, 20_000);
        inputs.extend([
            "AB 123-456".into(),
            "ab12345678901234567890".into(),
            " 123456 ".into(),
        ]);
        agree("card number", &card, &inputs, |s| {
            CardNumber::parse(s).is_ok()
        });

        let code = pattern_of(&property(&d, "CodeEnrolRequest", "code"));
        let mut inputs = samples(&alphabet("7KQ2M9XH4DWVYZ"), 0..16, 20_000);
        inputs.extend([
            "7KQ2M-9XH4D".into(),
            "7kq2m 9xh4d".into(),
            "OIL0123456".into(),
        ]);
        agree("enrolment code", &code, &inputs, |s| {
            EnrolmentCode::parse(s).is_ok()
        });

        let address = pattern_of(&property(&d, "NoticeRequest", "address_id"));
        let inputs = samples(&alphabet(""), 0..70, 20_000);
        agree("address id", &address, &inputs, |s| {
            AddressId::parse(s).is_ok()
        });

        let host = property(&d, "NoticeRequest", "host_name");
        let host_re = pattern_of(&host);
        let max = host["maxLength"].as_u64().expect("maxLength") as usize;
        let inputs = samples(&alphabet(""), 0..(max + 5), 5_000);
        let within: Vec<String> = inputs
            .iter()
            .filter(|s| s.chars().count() <= max)
            .cloned()
            .collect();
        agree("host name", &host_re, &within, |s| {
            HostName::parse(Some(s)).is_ok()
        });
        for s in &inputs {
            if host_re.is_match(s) {
                assert_eq!(
                    s.chars().count() <= max,
                    HostName::parse(Some(s)).is_ok(),
                    "host name length {}",
                    s.chars().count()
                );
            }
        }

        let forms = d["components"]["schemas"]["EventWire"]["oneOf"].clone();
        let registered = &forms[0]["properties"];
        let event_id = pattern_of(&registered["event_id"]);
        agree(
            "event id",
            &event_id,
            &samples(&alphabet(""), 0..140, 5_000),
            |s| EventId::parse(s).is_ok(),
        );
        let region = pattern_of(&registered["region"]);
        let mut inputs = samples(&alphabet("RUMOWSTVE"), 0..8, 5_000);
        inputs.extend([
            "RU-MOW".into(),
            "RU-TVE".into(),
            "RU-M".into(),
            "ru-mow".into(),
        ]);
        agree("region", &region, &inputs, |s| RegionCode::parse(s).is_ok());
        let reissue_card = pattern_of(&forms[3]["properties"]["new_card_number"]);
        assert_eq!(reissue_card.as_str(), card.as_str());
    }

    #[test]
    fn documented_session_keys_are_what_the_exchange_takes() {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine as _;
        let d = doc();
        let re = pattern_of(&property(&d, "SessionRequest", "ecdh_public"));
        for _ in 0..200 {
            let (private, offer) = amina_client::session::offer();
            assert!(re.is_match(&offer.ecdh_public), "{}", offer.ecdh_public);
            // What the pattern admits, the exchange reads as a point.
            let (_, peer) = amina_client::session::offer();
            assert!(amina_client::session::agree(private, &peer.ecdh_public, "s", "d").is_some());
        }
        let (_, offer) = amina_client::session::offer();
        let raw = URL_SAFE_NO_PAD.decode(&offer.ecdh_public).unwrap();
        let mut compressed = vec![2u8];
        compressed.extend(&raw[1..33]);
        for refused in [
            format!("{}=", offer.ecdh_public),
            URL_SAFE_NO_PAD.encode(&compressed),
            offer.ecdh_public.replace('_', "/"),
            offer.ecdh_public[..86].to_string(),
        ] {
            if refused != offer.ecdh_public {
                assert!(!re.is_match(&refused), "{refused}");
            }
        }
    }

    #[test]
    fn documented_key_forms_are_what_the_decoders_take() {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine as _;
        let d = doc();
        let x = pattern_of(&property(&d, "PublicJwk", "x"));
        let p256dh = pattern_of(&property(&d, "PushSubscriptionKeys", "p256dh"));
        let auth = pattern_of(&property(&d, "PushSubscriptionKeys", "auth"));
        let mut bytes = [0u8; 65];
        for i in 0..2_000u32 {
            for (j, b) in bytes.iter_mut().enumerate() {
                *b = (i.wrapping_mul(2_654_435_761).rotate_left(j as u32) >> 7) as u8;
            }
            bytes[0] = 4;
            assert!(x.is_match(&URL_SAFE_NO_PAD.encode(&bytes[1..33])));
            assert!(p256dh.is_match(&URL_SAFE_NO_PAD.encode(bytes)));
            assert!(auth.is_match(&URL_SAFE_NO_PAD.encode(&bytes[..16])));
        }
        // Every string the pattern admits decodes to the right length.
        for s in samples(&"AQgwBEIM_-z9".chars().collect::<Vec<_>>(), 20..25, 5_000) {
            let decoded = URL_SAFE_NO_PAD.decode(s.trim_end_matches('='));
            if auth.is_match(&s) {
                assert_eq!(decoded.map(|v| v.len()).ok(), Some(16), "{s}");
            } else if s.len() == 22 {
                assert_ne!(decoded.map(|v| v.len()).ok(), Some(16), "{s}");
            }
        }
        for first in [0u8, 2, 3, 5, 6, 7, 0x84] {
            let mut other = [9u8; 65];
            other[0] = first;
            assert!(!p256dh.is_match(&URL_SAFE_NO_PAD.encode(other)), "{first}");
        }
    }

    #[test]
    fn documented_endpoints_are_accepted_and_others_refused() {
        let d = doc();
        let re = pattern_of(&property(&d, "PushSubscriptionRequest", "endpoint"));
        let keys = amina_client::push::PushSubscriptionKeys {
            p256dh: "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM".into(),
            auth: "tBHItJI5svbpez7KI4CCXg".into(),
        };
        let parse = |endpoint: &str| {
            super::super::push::parse_subscription(
                &amina_client::push::PushSubscriptionRequest {
                    endpoint: endpoint.into(),
                    expiration_time: None,
                    keys: keys.clone(),
                    lang: "ru".into(),
                },
                false,
            )
        };
        let documented = [
            "https://fcm.googleapis.com/fcm/send/abc:APA91b",
            "https://updates.push.services.mozilla.com/wpush/v2/gAAAA?x=1&y=%41",
            "https://a",
            "https://push-1.example.org:8443/",
            "https://web.push.apple.com/QGm~_x;=@",
        ];
        for e in documented {
            assert!(re.is_match(e), "{e} matches");
            assert!(parse(e).is_ok(), "{e} accepted");
        }
        for e in [
            "http://example.org/",
            "https://user@example.org/",
            "https://example.org/#frag",
            "ftp://example.org/",
            "https://1.2.3.4/",
            "",
        ] {
            assert!(!re.is_match(e), "{e} does not match");
        }
        for e in [
            "http://example.org/",
            "https://u:p@example.org/",
            "https://example.org/#f",
        ] {
            assert!(parse(e).is_err(), "{e} refused");
        }
    }

    #[test]
    fn documented_numeric_limits_are_the_enforced_ones() {
        let d = doc();
        let config = Config::default();
        let fixes = property(&d, "FixBatch", "fixes");
        let max = fixes["maxItems"].as_u64().expect("maxItems") as usize;
        assert_eq!(fixes["minItems"], 1);
        let fix = json!({"seq": 1, "lat": 55.75, "lon": 37.61, "accuracy_m": 10.0,
            "recorded_at": "2026-11-30T10:00:00Z", "source": "gps"});
        let batch = |n: usize| {
            let list: Vec<Value> = (1..=n)
                .map(|i| {
                    let mut f = fix.clone();
                    f["seq"] = json!(i);
                    f
                })
                .collect();
            serde_json::to_vec(&json!({ "fixes": list })).expect("json")
        };
        let parse = |b: &[u8]| super::super::parse_fix_batch(b, config.ingest.max_batch_fixes);
        assert!(parse(&batch(max)).is_ok());
        assert_eq!(parse(&batch(max + 1)).unwrap_err().code, "batch_too_large");
        assert_eq!(parse(&batch(0)).unwrap_err().code, "empty_batch");

        // Each bounded number of a fix: the bounds pass, one step out fails.
        let one = |field: &str, v: Value| {
            let mut f = fix.clone();
            f[field] = v;
            super::super::parse_fix(&serde_json::from_value(f).expect("a wire fix")).is_ok()
        };
        for field in ["seq", "lat", "lon", "accuracy_m", "battery_pct"] {
            let s = property(&d, "FixWire", field);
            // The smallest step that leaves the range at these magnitudes.
            let step = if is_integer(&s) { 1.0 } else { 1e-6 };
            if let Some(min) = s["minimum"].as_f64() {
                assert!(one(field, num(min, &s)), "{field} = {min}");
                assert!(!one(field, num(min - step, &s)), "{field} below {min}");
            }
            if let Some(min) = s["exclusiveMinimum"].as_f64() {
                assert!(!one(field, num(min, &s)), "{field} = {min}");
                assert!(one(field, num(min + step, &s)), "{field} above {min}");
            }
            let max = s["maximum"].as_f64().expect("a maximum");
            assert!(one(field, num(max, &s)), "{field} = {max}");
            assert!(!one(field, num(max + step, &s)), "{field} above {max}");
        }
        let sources: Vec<String> =
            serde_json::from_value(property(&d, "FixWire", "source")["enum"].clone())
                .expect("enum");
        for s in &sources {
            assert!(one("source", json!(s)));
        }
        assert!(!one("source", json!("wifi")));

        // Check-ins.
        let checkin = json!({"location": "granted", "notifications": "denied", "queued_fixes": 0});
        let ok = |field: &str, v: Value| {
            let mut c = checkin.clone();
            c[field] = v;
            super::super::push::parse_checkin(
                &serde_json::from_value(c).expect("a check-in"),
                jiff::Timestamp::UNIX_EPOCH,
            )
            .is_ok()
        };
        let queued = property(&d, "CheckinRequest", "queued_fixes")["maximum"]
            .as_i64()
            .expect("max");
        assert!(ok("queued_fixes", json!(queued)));
        assert!(!ok("queued_fixes", json!(queued + 1)));
        assert!(!ok("queued_fixes", json!(-1)));
        for v in property(&d, "CheckinRequest", "geo_error")["enum"]
            .as_array()
            .expect("enum")
        {
            assert!(ok("geo_error", v.clone()), "geo_error {v}");
        }
        assert!(!ok("geo_error", json!(0)) && !ok("geo_error", json!(4)));
        for v in property(&d, "CheckinRequest", "location")["enum"]
            .as_array()
            .expect("enum")
        {
            assert!(ok("location", v.clone()), "location {v}");
        }
        assert!(!ok("location", json!("maybe")));
        let feed_limit = d["paths"]["/v1/integration/feed"]["get"]["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .find(|p| p["name"] == "limit")
            .expect("limit")["schema"]["maximum"]
            .clone();
        assert_eq!(feed_limit, config.integration.feed_max_limit);
    }

    fn is_integer(schema: &Value) -> bool {
        schema["type"] == "integer" || schema["type"][0] == "integer"
    }

    fn num(v: f64, schema: &Value) -> Value {
        if is_integer(schema) {
            json!(v as i64)
        } else {
            json!(v)
        }
    }

    #[test]
    fn every_event_form_of_the_document_is_read_as_that_event() {
        let d = doc();
        let forms = d["components"]["schemas"]["EventWire"]["oneOf"]
            .as_array()
            .expect("oneOf");
        assert_eq!(forms.len(), EventKind::ALL.len());
        for form in forms {
            let kind = form["properties"]["type"]["enum"][0]
                .as_str()
                .expect("type");
            let mut event = json!({"event_id": "e-1", "type": kind,
                "occurred_at": "2026-11-30T10:00:00Z", "card_number": "AB1234567"});
            let required: Vec<&str> = form["required"]
                .as_array()
                .expect("required")
                .iter()
                .filter_map(Value::as_str)
                .collect();
            if required.contains(&"region") {
                event["region"] = json!("RU-TVE");
            }
            if required.contains(&"new_card_number") {
                event["new_card_number"] = json!("CD7654321");
                event["new_card_valid_until"] = json!("2030-01-01");
            }
            let wire = serde_json::from_value(event.clone()).expect("a wire event");
            assert!(
                super::super::integration::parse_event(&wire).is_ok(),
                "{event}"
            );
            // A field the form allows only as null is refused with a value.
            for (name, schema) in form["properties"].as_object().expect("properties") {
                if schema["type"] == "null" {
                    let mut with = event.clone();
                    with[name] = json!("RU-MOW");
                    let wire = serde_json::from_value(with).expect("a wire event");
                    assert!(
                        super::super::integration::parse_event(&wire).is_err(),
                        "{kind} with {name}"
                    );
                }
            }
        }
    }
}
