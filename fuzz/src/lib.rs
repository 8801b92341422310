//! The fuzz harness: one function per parser that takes outside input.
//!
//! Each function feeds arbitrary bytes to the same library function the
//! server or the CLI calls on that input, and checks what must hold for any
//! input: no panic, a refusal is a client error (4xx) with a machine-readable
//! code, and what parses is consistent (round trips, values in range).
//!
//! The libFuzzer targets in `fuzz_targets/` call these functions; the
//! ordinary test suite replays every committed corpus file through them too
//! (`crates/server/tests/fuzz_corpus.rs` includes this file), so a corpus
//! input that once crashed stays a regression test without cargo-fuzz.

use std::sync::OnceLock;

use amina_client::integration::IntegrationSignature;
use amina_client::proto::{parse_signature_header, SignatureParams};
use amina_domain::calendar::ProductionCalendar;
use amina_domain::eligibility::Scope;
use amina_domain::geofence::{Geofence, DEFAULT_PILOT};
use amina_server::error::ApiError;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use jiff::{SignedDuration, Timestamp};

/// One harness: feeds arbitrary bytes to one parser.
pub type Harness = fn(&[u8]);

/// Every target, by name: the names of the `fuzz_targets/` binaries and of
/// the corpus folders.
pub const TARGETS: &[(&str, Harness)] = &[
    ("fix_batch", fix_batch),
    ("signature_headers", signature_headers),
    ("card_csv", card_csv),
    ("address_csv", address_csv),
    ("region_geojson", region_geojson),
    ("calendar_json", calendar_json),
    ("integration_event", integration_event),
    ("owntracks", owntracks),
];

/// A fixed "now" inside the embedded production calendar (2024–2027), so
/// every run takes the same paths.
fn now() -> Timestamp {
    "2025-12-01T09:00:00Z".parse().expect("valid instant")
}

fn calendar() -> &'static ProductionCalendar {
    static CAL: OnceLock<ProductionCalendar> = OnceLock::new();
    CAL.get_or_init(ProductionCalendar::embedded)
}

fn geofence() -> &'static Geofence {
    static FENCE: OnceLock<Geofence> = OnceLock::new();
    FENCE.get_or_init(Geofence::embedded)
}

/// A refusal of outside input must be a 4xx with a code.
fn client_error(e: &ApiError) {
    assert!(
        e.status.is_client_error(),
        "input refused with {} ({})",
        e.status,
        e.code
    );
    assert!(!e.code.is_empty());
}

/// `POST /v1/fixes` bodies: [`amina_server::api::parse_fix_batch`].
pub fn fix_batch(data: &[u8]) {
    match amina_server::api::parse_fix_batch(data, 1000) {
        Ok(fixes) => {
            assert!(!fixes.is_empty() && fixes.len() <= 1000);
            for f in fixes {
                let (lat, lon) = (f.position.lat(), f.position.lon());
                assert!((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon));
                assert!(f.accuracy.get().is_finite() && f.accuracy.get() > 0.0);
                // Both backends keep milliseconds.
                assert_eq!(f.recorded_at.subsec_nanosecond() % 1_000_000, 0);
                // The geofence classifies whatever the parser lets through.
                geofence().classify(lat, lon, f.accuracy.get());
            }
        }
        Err(e) => client_error(&e),
    }
}

/// Builds a header map from `name: value` lines; the rest after an empty
/// line is the body.
fn headers_and_body(data: &[u8]) -> (HeaderMap, Option<&[u8]>) {
    let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&data[..i], Some(&data[i + 2..])),
        None => (data, None),
    };
    let mut map = HeaderMap::new();
    for line in head.split(|b| *b == b'\n') {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(line[..colon].trim_ascii()),
            HeaderValue::from_bytes(line[colon + 1..].trim_ascii()),
        ) else {
            continue;
        };
        map.append(name, value);
    }
    (map, body)
}

/// RFC 9421 `Signature-Input` / `Signature` headers, device and integration
/// schemes: the header parsers, and the server's whole pre-key check
/// ([`amina_server::proof::parse_signed`]) on a request made of the input.
pub fn signature_headers(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        for line in text.lines() {
            if let Ok(p) = SignatureParams::parse(line) {
                // What the server parses, it serializes back the same way
                // (the signature base is built from the serialization).
                assert_eq!(SignatureParams::parse(&p.header_value()), Ok(p.clone()));
                let base = p.signature_base("POST", "/v1/fixes", Some("sha-256=:x:"));
                assert!(base.ends_with(&p.serialize()));
            }
            if let Ok(p) = IntegrationSignature::parse(line) {
                assert_eq!(
                    IntegrationSignature::parse(&p.header_value()),
                    Ok(p.clone())
                );
                p.signature_base("GET", "/v1/integration/feed", "after=1", None);
            }
            if let Ok(sig) = parse_signature_header(line) {
                assert_eq!(
                    parse_signature_header(&amina_client::proto::signature_header(&sig)),
                    Ok(sig)
                );
            }
        }
    }
    let (headers, body) = headers_and_body(data);
    match amina_server::proof::parse_signed(&headers, body, now(), 300) {
        Ok(signed) => {
            assert_eq!(signed.digest.is_some(), body.is_some());
            // A well-formed request against an arbitrary key: refused, no panic.
            let err =
                amina_server::proof::verify_with_key(&signed, &[4u8; 65], "POST", "/v1/fixes")
                    .expect_err("no signature verifies with an invalid key");
            client_error(&err);
        }
        Err(e) => client_error(&e),
    }
}

/// Card import CSV (`amina import cards`, `--demo`).
pub fn card_csv(data: &[u8]) {
    let today = jiff::civil::date(2025, 11, 1);
    if let Ok(parsed) = amina_server::cards::parse_cards(data, &Scope::default(), today) {
        assert_eq!(
            parsed.rows_read as usize,
            parsed.accepted.len() + parsed.refused.len()
        );
    }
}

/// Address register CSV (`amina import addresses`), against the real
/// boundaries.
pub fn address_csv(data: &[u8]) {
    if let Ok(parsed) = amina_server::addresses::parse_addresses(data, geofence()) {
        assert_eq!(
            parsed.rows_read as usize,
            parsed.accepted.len() + parsed.refused.len()
        );
    }
}

/// Region boundaries GeoJSON (`regions.geojson` in the configuration).
pub fn region_geojson(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(fence) = Geofence::from_geojson(text, DEFAULT_PILOT) {
        // Whatever loads can classify any point, on the fast and the exact
        // path alike.
        for (lat, lon, acc) in [(55.75, 37.62, 10.0), (0.0, 0.0, 1.0), (56.0, 37.0, 5000.0)] {
            assert_eq!(
                fence.classify(lat, lon, acc),
                fence.classify_exact(lat, lon, acc)
            );
            fence.distance_to_outer_boundary_m(lat, lon);
        }
    }
}

/// Production calendar documents (`calendar.extra` in the configuration).
pub fn calendar_json(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(cal) = ProductionCalendar::from_json(text) else {
        return;
    };
    let (first, last) = (cal.first_year(), cal.last_year());
    assert!(first <= last);
    let from = jiff::civil::date(first, 1, 1);
    let to = jiff::civil::date(last, 12, 31);
    let days = cal.working_days_between(from, to).expect("covered range");
    let per_year: u32 = cal
        .years()
        .iter()
        .map(|y| cal.working_days_in_year(*y).expect("loaded year"))
        .sum();
    if cal.years().len() == usize::try_from(last - first + 1).unwrap_or(0) {
        assert_eq!(days, per_year);
    }
    if let Ok(d) = cal.nth_working_day_after(from, 3) {
        assert!(d > from && cal.is_working_day(d) == Ok(true));
    }
    let mut merged = calendar().clone();
    let _ = merged.extend(cal);
}

/// Integration event bodies (`POST /v1/integration/events`).
pub fn integration_event(data: &[u8]) {
    let skew = SignedDuration::from_secs(300);
    match amina_server::api::integration::parse_event_body(data, calendar(), now(), skew) {
        Ok(event) => {
            assert!(event.occurred_at <= now() + skew);
            // The canonical form stored and digested serializes.
            serde_json::to_vec(&event).expect("events serialize");
        }
        Err(e) => client_error(&e),
    }
}

/// OwnTracks HTTP-mode bodies (`POST /v1/owntracks`): the first byte picks
/// whether the rest is the raw request body (the encrypted envelope) or the
/// plaintext to seal with the device key first, so the fuzzer reaches the
/// message parser behind the MAC as well.
pub fn owntracks(data: &[u8]) {
    use amina_server::owntracks as ot;
    const KEY: &str = "AbCdEfGhIjKlMnOpQrStUvWxYz012345";
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    let decoded = if mode % 2 == 0 {
        ot::decode(rest, KEY)
    } else {
        let envelope = serde_json::json!({"_type": "encrypted", "data": ot::encrypt(KEY, rest)});
        let body = serde_json::to_vec(&envelope).expect("JSON");
        let via_envelope = ot::decode(&body, KEY);
        assert_eq!(
            via_envelope.as_ref().map_err(|e| e.code()),
            ot::parse_message(rest).as_ref().map_err(|e| e.code())
        );
        via_envelope
    };
    match decoded {
        Ok(msg) => {
            if let ot::Message::Location(loc) = &msg {
                match ot::fix_of(loc) {
                    Ok(fix) => assert!(fix.accuracy.get() >= 1.0),
                    Err(e) => assert!(e.status().is_client_error()),
                }
            }
            ot::checkin_of(&msg, now());
        }
        Err(e) => assert!(e.status().is_client_error()),
    }
    let _ = ot::basic_auth(std::str::from_utf8(rest).ok());
}
