//! Values from the outside world, parsed once at the edge.
//!
//! Each type has one constructor that checks everything the rules rely on, so
//! the rest of the system never sees a NaN coordinate, a negative accuracy or
//! a card number with stray spaces. The error says, in a machine-readable
//! code, what was wrong.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a value from outside was refused. `code()` is the stable,
/// machine-readable reason that reaches API clients and CLI users.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("latitude must be a finite number in [-90, 90]")]
    Latitude,
    #[error("longitude must be a finite number in [-180, 180]")]
    Longitude,
    #[error("accuracy must be a finite number of metres, > 0 and <= {max}")]
    Accuracy { max: u32 },
    #[error("battery must be a percentage 0..=100")]
    Battery,
    #[error("sequence number must be between 1 and 2^53-1")]
    Sequence,
    #[error("card number must be 6 to 20 letters or digits")]
    CardNumber,
    #[error("citizenship must be an ISO 3166-1 alpha-3 code")]
    Citizenship,
}

impl InputError {
    pub fn code(&self) -> &'static str {
        match self {
            InputError::Latitude => "invalid_latitude",
            InputError::Longitude => "invalid_longitude",
            InputError::Accuracy { .. } => "invalid_accuracy",
            InputError::Battery => "invalid_battery",
            InputError::Sequence => "invalid_sequence",
            InputError::CardNumber => "invalid_card_number",
            InputError::Citizenship => "invalid_citizenship",
        }
    }
}

/// A WGS 84 position in degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Coordinates {
    lat: f64,
    lon: f64,
}

impl Coordinates {
    pub fn parse(lat: f64, lon: f64) -> Result<Self, InputError> {
        if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
            return Err(InputError::Latitude);
        }
        if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
            return Err(InputError::Longitude);
        }
        Ok(Coordinates { lat, lon })
    }
    pub fn lat(self) -> f64 {
        self.lat
    }
    pub fn lon(self) -> f64 {
        self.lon
    }

    /// Great-circle distance in metres (haversine on a sphere of the mean
    /// Earth radius; the 0.3% ellipsoid error is far below GNSS accuracy).
    pub fn distance_m(self, other: Coordinates) -> f64 {
        const EARTH_RADIUS_M: f64 = 6_371_008.8;
        let (p1, p2) = (self.lat.to_radians(), other.lat.to_radians());
        let dp = p2 - p1;
        let dl = (other.lon - self.lon).to_radians();
        let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_M * a.sqrt().min(1.0).asin()
    }
}

/// The radius of a fix's 68% confidence circle, in metres, as phones report
/// it. Zero or negative accuracy is a client bug; more than 100 km is not a
/// location at all.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize)]
pub struct AccuracyM(f64);

impl AccuracyM {
    pub const MAX: u32 = 100_000;
    pub fn parse(metres: f64) -> Result<Self, InputError> {
        if metres.is_finite() && metres > 0.0 && metres <= f64::from(Self::MAX) {
            Ok(AccuracyM(metres))
        } else {
            Err(InputError::Accuracy { max: Self::MAX })
        }
    }
    pub fn get(self) -> f64 {
        self.0
    }
}

/// Battery charge in percent, as reported by the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BatteryPct(u8);

impl BatteryPct {
    pub const MAX: u8 = 100;
    pub fn parse(pct: i64) -> Result<Self, InputError> {
        u8::try_from(pct)
            .ok()
            .filter(|p| *p <= Self::MAX)
            .map(BatteryPct)
            .ok_or(InputError::Battery)
    }
    pub fn get(self) -> u8 {
        self.0
    }
}

/// A device's per-fix sequence number. It makes uploads idempotent: the pair
/// (device, seq) names one fix forever. Limited to 2^53-1 so that JavaScript
/// clients can hold it in a Number without losing precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct DeviceSeq(u64);

impl DeviceSeq {
    pub const MAX: u64 = (1 << 53) - 1;
    pub fn parse(seq: i64) -> Result<Self, InputError> {
        u64::try_from(seq)
            .ok()
            .filter(|s| (1..=Self::MAX).contains(s))
            .map(DeviceSeq)
            .ok_or(InputError::Sequence)
    }
    pub fn get(self) -> u64 {
        self.0
    }
}

/// A foreign citizen card number (карта иностранного гражданина), normalised:
/// spaces and dashes removed, letters upper-cased. The card registry is an
/// external system; we only require a plausible shape.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CardNumber(String);

/// A regular-expression character class body (ECMA-262, Python and Rust
/// `regex` read it alike) of exactly the characters `char::is_whitespace`
/// accepts, Unicode's White_Space: the input parsers that skip or trim
/// whitespace describe their accepted form with it.
pub const WHITESPACE_CLASS: &str =
    r"\t\n\x0B\x0C\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";

impl CardNumber {
    /// The shortest and longest number, in letters and digits.
    pub const LEN: std::ops::RangeInclusive<usize> = 6..=20;

    /// What [`CardNumber::parse`] accepts, as a regular expression (for
    /// the API description): 6 to 20 ASCII letters and digits, with any
    /// whitespace and dashes around and between them.
    pub fn pattern() -> String {
        format!(
            "^[{WHITESPACE_CLASS}-]*(?:[A-Za-z0-9][{WHITESPACE_CLASS}-]*){{{},{}}}$",
            Self::LEN.start(),
            Self::LEN.end()
        )
    }

    pub fn parse(raw: &str) -> Result<Self, InputError> {
        let normalised: String = raw
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let ok_len = Self::LEN.contains(&normalised.len());
        if ok_len && normalised.chars().all(|c| c.is_ascii_alphanumeric()) {
            Ok(CardNumber(normalised))
        } else {
            Err(InputError::CardNumber)
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CardNumber {
    type Error = InputError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        CardNumber::parse(&s)
    }
}

impl From<CardNumber> for String {
    fn from(c: CardNumber) -> String {
        c.0
    }
}

impl fmt::Display for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// ISO 3166-1 alpha-3 country code, upper case (the code printed in
/// passports' machine-readable zone).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Citizenship(String);

impl Citizenship {
    pub fn parse(raw: &str) -> Result<Self, InputError> {
        let up = raw.trim().to_ascii_uppercase();
        if up.len() == 3 && up.chars().all(|c| c.is_ascii_uppercase()) {
            Ok(Citizenship(up))
        } else {
            Err(InputError::Citizenship)
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Citizenship {
    type Error = InputError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Citizenship::parse(&s)
    }
}

impl From<Citizenship> for String {
    fn from(c: Citizenship) -> String {
        c.0
    }
}

/// Where a fix came from, as the client says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FixSource {
    Gps,
    Network,
}

impl FixSource {
    pub const ALL: [FixSource; 2] = [FixSource::Gps, FixSource::Network];

    pub fn as_str(self) -> &'static str {
        match self {
            FixSource::Gps => "gps",
            FixSource::Network => "network",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "gps" => Some(FixSource::Gps),
            "network" => Some(FixSource::Network),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinates_refuse_nan_and_out_of_range() {
        assert_eq!(
            Coordinates::parse(f64::NAN, 37.0),
            Err(InputError::Latitude)
        );
        assert_eq!(
            Coordinates::parse(55.0, f64::INFINITY),
            Err(InputError::Longitude)
        );
        assert_eq!(Coordinates::parse(90.0001, 37.0), Err(InputError::Latitude));
        assert_eq!(Coordinates::parse(55.0, -180.5), Err(InputError::Longitude));
        assert!(Coordinates::parse(-90.0, 180.0).is_ok());
    }

    #[test]
    fn distance_kremlin_to_sheremetyevo_is_about_29_km() {
        let kremlin = Coordinates::parse(55.7520, 37.6175).unwrap();
        let svo = Coordinates::parse(55.9726, 37.4146).unwrap();
        let d = kremlin.distance_m(svo);
        assert!((27_000.0..30_000.0).contains(&d), "{d}");
    }

    #[test]
    fn accuracy_bounds() {
        assert!(AccuracyM::parse(0.0).is_err());
        assert!(AccuracyM::parse(-1.0).is_err());
        assert!(AccuracyM::parse(f64::NAN).is_err());
        assert!(AccuracyM::parse(100_000.1).is_err());
        assert_eq!(AccuracyM::parse(3.5).unwrap().get(), 3.5);
    }

    #[test]
    fn sequence_and_battery_bounds() {
        assert!(DeviceSeq::parse(0).is_err());
        assert!(DeviceSeq::parse(-5).is_err());
        assert!(DeviceSeq::parse(1 << 53).is_err());
        assert_eq!(
            DeviceSeq::parse((1 << 53) - 1).unwrap().get(),
            (1 << 53) - 1
        );
        assert!(BatteryPct::parse(101).is_err());
        assert!(BatteryPct::parse(-1).is_err());
        assert_eq!(BatteryPct::parse(100).unwrap().get(), 100);
    }

    #[test]
    fn card_numbers_are_normalised() {
        assert_eq!(
            CardNumber::parse(" ab-12 3456 ").unwrap().as_str(),
            "AB123456"
        );
        assert!(CardNumber::parse("12345").is_err());
        assert!(CardNumber::parse("AB12345Ж").is_err());
        assert!(CardNumber::parse("A".repeat(21).as_str()).is_err());
    }

    #[test]
    fn citizenship_is_alpha3() {
        assert_eq!(Citizenship::parse("uzb").unwrap().as_str(), "UZB");
        assert!(Citizenship::parse("UZ").is_err());
        assert!(Citizenship::parse("U1B").is_err());
    }
}
