//! Integers in any JSON notation.
//!
//! JSON has one number type: `92` and `92.0` are the same number, and JSON
//! Schema's `integer` admits both. serde reads `92.0` into an `i64` as an
//! error, so a client (or a JavaScript `JSON.stringify` of a computed
//! value) that writes a whole number with a fraction part would be refused
//! for its notation. The integer fields of request bodies read with these
//! functions (`#[serde(deserialize_with = …)]`): a whole number in either
//! notation is taken; a fraction, or a number outside `i64`, is refused.

use serde::de::{self, Deserializer, Visitor};

struct WholeNumber;

impl Visitor<'_> for WholeNumber {
    type Value = i64;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an integer")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
        Ok(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
        i64::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<i64, E> {
        // -2^63 is exact as an f64; 2^63 is the first value out of range.
        const LIMIT: f64 = 9_223_372_036_854_775_808.0;
        if v.fract() == 0.0 && (-LIMIT..LIMIT).contains(&v) {
            Ok(v as i64)
        } else {
            Err(E::invalid_value(de::Unexpected::Float(v), &self))
        }
    }
}

/// An `i64` from `92` or `92.0`.
pub fn whole<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    d.deserialize_any(WholeNumber)
}

struct OptionalWholeNumber;

impl<'de> Visitor<'de> for OptionalWholeNumber {
    type Value = Option<i64>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an integer or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<Option<i64>, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<i64>, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<i64>, D::Error> {
        whole(d).map(Some)
    }
}

/// An `Option<i64>` from `null`, `92` or `92.0` (use with `#[serde(default)]`
/// for a field that may be left out).
pub fn optional_whole<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    d.deserialize_option(OptionalWholeNumber)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Body {
        #[serde(deserialize_with = "super::whole")]
        n: i64,
        #[serde(default, deserialize_with = "super::optional_whole")]
        m: Option<i64>,
    }

    fn read(s: &str) -> Result<Body, serde_json::Error> {
        serde_json::from_str(s)
    }

    #[test]
    fn whole_numbers_are_read_in_either_notation() {
        assert_eq!(read(r#"{"n": 92}"#).unwrap(), Body { n: 92, m: None });
        assert_eq!(
            read(r#"{"n": 92.0, "m": -3.0}"#).unwrap(),
            Body { n: 92, m: Some(-3) }
        );
        assert_eq!(
            read(r#"{"n": 9.2e1, "m": null}"#).unwrap(),
            Body { n: 92, m: None }
        );
        assert_eq!(read(r#"{"n": -9223372036854775808}"#).unwrap().n, i64::MIN);
        assert_eq!(read(r#"{"n": 9223372036854775807}"#).unwrap().n, i64::MAX);
    }

    #[test]
    fn fractions_and_numbers_out_of_range_are_refused() {
        for bad in [
            r#"{"n": 92.5}"#,
            r#"{"n": 9223372036854775808}"#,
            r#"{"n": 9.3e18}"#,
            r#"{"n": -9.3e18}"#,
            r#"{"n": "92"}"#,
            r#"{"n": null}"#,
            r#"{"n": 1, "m": 0.5}"#,
            r#"{"n": 1, "m": "1"}"#,
        ] {
            assert!(read(bad).is_err(), "{bad}");
        }
    }
}
