//! A signal's evidence as an officer reads it: what the kind means, then
//! the stored evidence (JSON) as a small table with translated labels,
//! times in Moscow time and numbers rounded — never a raw JSON dump.
//!
//! Positions in evidence (`lat`, `lon` and any `…_lat`/`…_lon`) are
//! location: they are withheld unless the page is inside a case or a spot
//! check that names a legal basis (`show_location`), like every other
//! location read.

use amina_domain::signal::SignalKind;
use maud::{html, Markup};
use serde_json::Value;

use super::t;

/// Most list items shown from one evidence array.
const MAX_ITEMS: usize = 12;

fn is_position_key(key: &str) -> bool {
    key == "lat" || key == "lon" || key.ends_with("_lat") || key.ends_with("_lon")
}

/// The label of an evidence key: `ev-<key>` from the catalog, else the key
/// with spaces.
fn label(lang: &str, key: &str) -> String {
    crate::i18n::console_catalog()
        .message(lang, &format!("ev-{}", key.replace('_', "-")))
        .unwrap_or_else(|| key.replace('_', " "))
}

fn number(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 => format!("{f:.0}"),
        Some(f) if f.abs() < 10.0 => format!("{f:.3}"),
        Some(f) => format!("{f:.1}"),
        None => n.to_string(),
    }
}

fn value(lang: &str, v: &Value, show_location: bool) -> Markup {
    match v {
        Value::Null => html! { "—" },
        Value::Bool(b) => html! { (t(lang, if *b { "yes" } else { "no" })) },
        Value::Number(n) => html! { (number(n)) },
        Value::String(s) => match s.parse::<jiff::Timestamp>() {
            Ok(ts) => html! {
                time datetime=(s) {
                    (amina_domain::time::moscow().to_datetime(ts).strftime("%Y-%m-%d %H:%M").to_string())
                }
            },
            Err(_) => html! { (s) },
        },
        Value::Array(items) => html! {
            ul.ev-list {
                @for i in items.iter().take(MAX_ITEMS) { li { (value(lang, i, show_location)) } }
                @if items.len() > MAX_ITEMS { li { "… " (items.len() - MAX_ITEMS) } }
            }
        },
        Value::Object(_) => table(lang, v, show_location),
    }
}

fn table(lang: &str, v: &Value, show_location: bool) -> Markup {
    let Some(map) = v.as_object() else {
        return value(lang, v, show_location);
    };
    let withheld = map.keys().any(|k| is_position_key(k)) && !show_location;
    html! {
        table.evidence {
            tbody {
                @for (k, v) in map {
                    @if !is_position_key(k) || show_location {
                        tr data-key=(k) {
                            th scope="row" { (label(lang, k)) }
                            td {
                                @if let (true, Some(c)) = (is_position_key(k), v.as_f64()) {
                                    (format!("{c:.5}"))
                                } @else {
                                    (value(lang, v, show_location))
                                }
                            }
                        }
                    }
                }
                @if withheld {
                    tr.withheld { td colspan="2" { (t(lang, "ev-position-withheld")) } }
                }
            }
        }
    }
}

/// The evidence of a signal of `kind`: the kind's meaning and the table.
pub fn render(lang: &str, kind: SignalKind, evidence: &Value, show_location: bool) -> Markup {
    html! {
        div.evidence-block data-kind=(kind.code()) {
            p.kind-meaning { (t(lang, &format!("signal-meaning-{}", kind.code()))) }
            (table(lang, evidence, show_location))
        }
    }
}

/// A signal kind's name in the officer's language.
pub fn kind_name(lang: &str, kind: SignalKind) -> String {
    t(lang, &format!("signal-kind-{}", kind.code()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_is_a_table_with_positions_withheld_outside_a_case() {
        let ev = serde_json::json!({
            "outside_since": "2025-11-24T06:00:00Z",
            "lat": 56.85, "lon": 35.9, "accuracy_m": 12.345,
            "home": {"lat": 55.7, "lon": 37.6, "confidence": 0.8},
            "registered_lat": 55.75,
            "reasons": ["mock", "jump"],
        });
        let page = render("en", SignalKind::OutsideRegion, &ev, false).into_string();
        assert!(!page.contains("56.85") && !page.contains("55.7") && !page.contains("55.75"));
        assert!(page.contains("2025-11-24 09:00"), "Moscow time: {page}");
        assert!(page.contains("12.345") || page.contains("12.3"));
        assert!(page.contains("class=\"withheld\""));
        assert!(!page.contains('{'), "no JSON: {page}");
        let inside = render("en", SignalKind::OutsideRegion, &ev, true).into_string();
        assert!(inside.contains("56.85000") && !inside.contains("class=\"withheld\""));
    }
}
