//! Place of stay: the address register and the person's notices.
//!
//! DESIGN.md: the declared place of stay is "a place regularly used for
//! sleep and rest", a residential address that exists in the federal
//! address register (FIAS/GAR); the person notifies it, and its changes, in
//! the app, and landlords no longer file. So a notice names an entry of the
//! register (never free text), and it is accepted only when that entry is
//! residential and lies inside the pilot region. These rules live here,
//! free of HTTP and SQL, so that the import, the API and the store ask the
//! same questions and get the same answers.
//!
//! Date rules, and why:
//! - a notice cannot start before the person's current registration began:
//!   before that the system had no business knowing where they slept, and a
//!   back-dated notice would rewrite a period nobody reported on;
//! - nor more than [`NoticeRules::max_days_ahead`] days after today (default
//!   7): a move is announced shortly before it happens, not planned months
//!   ahead, when it is likely to change again;
//! - nor before the date of the notice it replaces: history runs forward,
//!   a correction of the current notice is a new notice from a later date.
//!
//! A new notice supersedes the current one (the old one is kept, marked
//! superseded). Sending exactly the current notice again is a retry and
//! changes nothing.

use std::fmt;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::geofence::{Geofence, RegionIndex, Zone};
use crate::monitor::RegistrationStatus;
use crate::types::Coordinates;

/// An entry's identifier in the address register (GAR's object GUID, or
/// any stable id of the source): 1–64 letters, digits, `-`, `_`, `.`, `:`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AddressId(String);

impl AddressId {
    /// Longest id, in characters.
    pub const MAX_LEN: usize = 64;

    /// What [`AddressId::parse`] accepts, as a regular expression (for the
    /// API description): the id, with any whitespace around it.
    pub fn pattern() -> String {
        let ws = crate::types::WHITESPACE_CLASS;
        format!("^[{ws}]*[A-Za-z0-9._:-]{{1,{}}}[{ws}]*$", Self::MAX_LEN)
    }

    pub fn parse(raw: &str) -> Result<Self, AddressError> {
        let s = raw.trim();
        let ok = !s.is_empty()
            && s.len() <= Self::MAX_LEN
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
        if ok {
            Ok(AddressId(s.to_string()))
        } else {
            Err(AddressError::Id)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AddressId {
    type Error = AddressError;
    fn try_from(s: String) -> Result<Self, AddressError> {
        AddressId::parse(&s)
    }
}

impl From<AddressId> for String {
    fn from(a: AddressId) -> String {
        a.0
    }
}

impl fmt::Display for AddressId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a value for the address register or a notice was refused as
/// malformed (before any rule is asked).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("address id must be 1 to 64 letters, digits, '-', '_', '.' or ':'")]
    Id,
    #[error("{0} is required and must be at most 200 characters without control characters")]
    Text(&'static str),
    #[error("region must be an ISO 3166-2 code such as RU-MOW")]
    Region,
    #[error("host party name must be at most 200 characters without control characters")]
    HostName,
}

impl AddressError {
    pub fn code(&self) -> &'static str {
        match self {
            AddressError::Id => "invalid_address_id",
            AddressError::Text(_) => "invalid_address_text",
            AddressError::Region => "invalid_region",
            AddressError::HostName => "invalid_host_name",
        }
    }
}

/// Longest text field (street, municipality, house, flat, host name).
pub const MAX_TEXT_CHARS: usize = 200;

/// A required free-text field: trimmed, inner whitespace collapsed, 1–200
/// characters, no control characters.
pub fn clean_text(raw: &str, what: &'static str) -> Result<String, AddressError> {
    let s = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.is_empty() || s.chars().count() > MAX_TEXT_CHARS || s.chars().any(char::is_control) {
        return Err(AddressError::Text(what));
    }
    Ok(s)
}

/// An ISO 3166-2 subdivision code: `RU-MOW`, `RU-MOS`, `RU-TVE`, …
pub fn parse_region(raw: &str) -> Result<String, AddressError> {
    let s = raw.trim().to_ascii_uppercase();
    let ok = s.len() <= 10
        && s.split_once('-').is_some_and(|(country, sub)| {
            country.len() == 2
                && country.chars().all(|c| c.is_ascii_uppercase())
                && (1..=3).contains(&sub.len())
                && sub.chars().all(|c| c.is_ascii_alphanumeric())
        });
    if ok {
        Ok(s)
    } else {
        Err(AddressError::Region)
    }
}

/// The name of the host party (принимающая сторона) as the person gives
/// it: optional; an empty or blank value is no name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostName(String);

impl HostName {
    /// What [`HostName::parse`] accepts besides its length (at most
    /// [`MAX_TEXT_CHARS`] characters as sent), as a regular expression for
    /// the API description: no control character other than whitespace.
    pub const PATTERN: &'static str = "^[^\\x00-\\x08\\x0E-\\x1F\\x7F-\\x84\\x86-\\x9F]*$";

    /// At most [`MAX_TEXT_CHARS`] characters as sent (so the limit a form
    /// or an API description states is the limit applied), none of them a
    /// control character but whitespace; whitespace runs become one space.
    pub fn parse(raw: Option<&str>) -> Result<Option<HostName>, AddressError> {
        let Some(raw) = raw else { return Ok(None) };
        if raw.chars().count() > MAX_TEXT_CHARS {
            return Err(AddressError::HostName);
        }
        let s = raw.split_whitespace().collect::<Vec<_>>().join(" ");
        if s.is_empty() {
            return Ok(None);
        }
        if s.chars().count() > MAX_TEXT_CHARS || s.chars().any(char::is_control) {
            return Err(AddressError::HostName);
        }
        Ok(Some(HostName(s)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One entry of the address register: a house, or a flat in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Address {
    pub id: AddressId,
    /// ISO 3166-2 code of the region (GAR's region, e.g. 77 → `RU-MOW`).
    pub region: String,
    /// The municipality or city (`Москва`, `городской округ Химки`).
    pub municipality: String,
    /// The street with its type (`улица Тверская`).
    pub street: String,
    /// House number with building/structure (`7`, `12к1`, `4 стр. 2`).
    pub house: String,
    /// Flat (apartment) number, if the entry is a flat.
    pub flat: Option<String>,
    /// Whether the premises are residential (a place to sleep and rest).
    pub residential: bool,
    pub position: Coordinates,
}

/// Why a well-formed register entry is not taken into the register.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterRefusal {
    #[error("region {region} is not a pilot region")]
    RegionNotInPilot { region: String },
    #[error("the coordinates are not inside region {region}")]
    OutsideStatedRegion { region: String },
}

impl RegisterRefusal {
    pub fn code(&self) -> &'static str {
        match self {
            RegisterRefusal::RegionNotInPilot { .. } => "region_not_in_pilot",
            RegisterRefusal::OutsideStatedRegion { .. } => "coordinates_outside_region",
        }
    }
}

/// Where an address lies, decided against the real boundaries. An
/// address is a point, so it is classified with zero accuracy: only a point
/// exactly on the outer boundary is "uncertain".
fn zone_of(address: &Address, geofence: &Geofence) -> Zone {
    geofence.classify(address.position.lat(), address.position.lon(), 0.0)
}

fn pilot_index(region: &str, geofence: &Geofence) -> Option<RegionIndex> {
    geofence
        .regions()
        .iter()
        .position(|r| r.code == region)
        // Fewer than geofence::MAX_REGIONS = 16 regions.
        .map(|i| RegionIndex(i as u8))
}

/// Whether an entry belongs in the pilot's register: its region is a pilot
/// region and its coordinates lie inside that region (a coordinate in the
/// wrong region is a data error in the export, and would later let a notice
/// through that the map contradicts).
pub fn check_register_entry(
    address: &Address,
    geofence: &Geofence,
) -> Result<RegionIndex, RegisterRefusal> {
    let Some(index) = pilot_index(&address.region, geofence) else {
        return Err(RegisterRefusal::RegionNotInPilot {
            region: address.region.clone(),
        });
    };
    match zone_of(address, geofence) {
        Zone::Inside(i) if i == index => Ok(index),
        _ => Err(RegisterRefusal::OutsideStatedRegion {
            region: address.region.clone(),
        }),
    }
}

/// The configurable part of the notice rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoticeRules {
    /// How many days after today a notice may start.
    pub max_days_ahead: u32,
}

impl Default for NoticeRules {
    fn default() -> Self {
        NoticeRules { max_days_ahead: 7 }
    }
}

/// What the rules need to know about the person and their current notice.
#[derive(Debug, Clone, PartialEq)]
pub struct NoticeContext {
    pub status: RegistrationStatus,
    /// Moscow date on which the current registration started.
    pub registration_start: Date,
    /// Today's Moscow date.
    pub today: Date,
    /// The notice in force, if any, in the current registration.
    pub current: Option<CurrentNotice>,
}

/// The notice in force, as far as the rules compare with it.
#[derive(Debug, Clone, PartialEq)]
pub struct CurrentNotice {
    pub address_id: AddressId,
    pub date_from: Date,
    pub host_name: Option<HostName>,
}

/// Why a notice is refused. Nothing is stored for a refused notice.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoticeRefusal {
    #[error("you are not registered: enrol again before notifying a place of stay")]
    NotRegistered,
    #[error("the address is not residential; a place of stay must be a dwelling")]
    NotResidential,
    #[error("the address is not inside the pilot region")]
    OutsideRegion,
    #[error("the date is before your registration started ({start})")]
    BeforeRegistration { start: Date },
    #[error("the date is more than {max_days} days ahead (at most {latest})")]
    TooFarAhead { max_days: u32, latest: Date },
    #[error("the date is before the date of your current notice ({current})")]
    BeforeCurrentNotice { current: Date },
}

impl NoticeRefusal {
    pub fn code(&self) -> &'static str {
        match self {
            NoticeRefusal::NotRegistered => "not_registered",
            NoticeRefusal::NotResidential => "address_not_residential",
            NoticeRefusal::OutsideRegion => "address_outside_region",
            NoticeRefusal::BeforeRegistration { .. } => "date_before_registration",
            NoticeRefusal::TooFarAhead { .. } => "date_too_far_ahead",
            NoticeRefusal::BeforeCurrentNotice { .. } => "date_before_current_notice",
        }
    }
}

/// What to do with a notice that passed the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeDecision {
    /// Store it; it supersedes the current notice, if any.
    Accept,
    /// It is the current notice again (a retry): store nothing.
    SameAsCurrent,
}

/// Decide a notice: the address must be residential and inside the pilot
/// region (asked again at notice time: the pilot configuration may have
/// changed since the import), the person registered, and the date within
/// the rules above.
pub fn decide_notice(
    rules: &NoticeRules,
    geofence: &Geofence,
    ctx: &NoticeContext,
    address: &Address,
    date_from: Date,
    host_name: &Option<HostName>,
) -> Result<NoticeDecision, NoticeRefusal> {
    if ctx.status != RegistrationStatus::Registered {
        return Err(NoticeRefusal::NotRegistered);
    }
    if check_register_entry(address, geofence).is_err() {
        return Err(NoticeRefusal::OutsideRegion);
    }
    if !address.residential {
        return Err(NoticeRefusal::NotResidential);
    }
    if let Some(current) = &ctx.current {
        if current.address_id == address.id
            && current.date_from == date_from
            && &current.host_name == host_name
        {
            return Ok(NoticeDecision::SameAsCurrent);
        }
    }
    if date_from < ctx.registration_start {
        return Err(NoticeRefusal::BeforeRegistration {
            start: ctx.registration_start,
        });
    }
    let latest = ctx
        .today
        .checked_add(jiff::Span::new().days(i64::from(rules.max_days_ahead)))
        .unwrap_or(Date::MAX);
    if date_from > latest {
        return Err(NoticeRefusal::TooFarAhead {
            max_days: rules.max_days_ahead,
            latest,
        });
    }
    if let Some(current) = &ctx.current {
        if date_from < current.date_from {
            return Err(NoticeRefusal::BeforeCurrentNotice {
                current: current.date_from,
            });
        }
    }
    Ok(NoticeDecision::Accept)
}

/// A stored notice's state as the person sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeState {
    /// Accepted and in force.
    Current,
    /// Replaced by a later notice.
    Superseded,
    /// Its registration ended (deregistration); after re-registering the
    /// person notifies again.
    Ended,
}

impl NoticeState {
    /// A stored notice's state: superseding wins (it happened to the
    /// notice itself); otherwise the end of its registration ends it.
    pub fn of(superseded: bool, registration_ended: bool) -> NoticeState {
        if superseded {
            NoticeState::Superseded
        } else if registration_ended {
            NoticeState::Ended
        } else {
            NoticeState::Current
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            NoticeState::Current => "current",
            NoticeState::Superseded => "superseded",
            NoticeState::Ended => "ended",
        }
    }
}

// ---------------------------------------------------------------------------
// Search.

/// Words that name the kind of a street or a part of an address. A person
/// types them in many forms ("ул", "ул.", "улица") or not at all, and the
/// register spells them its own way, so the search ignores them.
const ADDRESS_WORDS: &[&str] = &[
    "г",
    "город",
    "ул",
    "улица",
    "пр",
    "пр-т",
    "просп",
    "проспект",
    "пер",
    "переулок",
    "ш",
    "шоссе",
    "наб",
    "набережная",
    "бул",
    "б-р",
    "бульвар",
    "пл",
    "площадь",
    "проезд",
    "пр-д",
    "туп",
    "тупик",
    "мкр",
    "микрорайон",
    "д",
    "дом",
    "кв",
    "квартира",
    "к",
    "корп",
    "корпус",
    "стр",
    "строение",
    "городской",
    "округ",
    "го",
    "обл",
    "область",
    "street",
    "st",
    "flat",
    "house",
    "apt",
];

/// The normal form of address text for searching: lower case, `ё` as `е`,
/// punctuation as spaces, single spaces.
pub fn normalize_search_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().flat_map(char::to_lowercase) {
        let c = if c == 'ё' { 'е' } else { c };
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.ends_with(' ') {
            out.push(' ');
        }
    }
    out.trim().to_string()
}

/// The text an entry is found by: municipality, street, house and flat,
/// normalized, with house and flat also without inner spaces ("12 к 1" is
/// found as "12к1").
pub fn search_text(a: &Address) -> String {
    let mut parts = vec![
        normalize_search_text(&a.municipality),
        normalize_search_text(&a.street),
        normalize_search_text(&a.house),
        normalize_search_text(&a.house).replace(' ', ""),
    ];
    if let Some(flat) = &a.flat {
        parts.push(normalize_search_text(flat));
    }
    parts.join(" ")
}

/// Most words of a query that are used.
pub const MAX_QUERY_TERMS: usize = 8;

/// The words of a search query that every hit must contain: normalized,
/// without the address-kind words, at most [`MAX_QUERY_TERMS`]. Empty means
/// the query says nothing to search by.
pub fn query_terms(query: &str) -> Vec<String> {
    let mut terms: Vec<String> = Vec::new();
    for word in normalize_search_text(query).split(' ') {
        if word.is_empty() || ADDRESS_WORDS.contains(&word) || terms.iter().any(|t| t == word) {
            continue;
        }
        terms.push(word.to_string());
        if terms.len() == MAX_QUERY_TERMS {
            break;
        }
    }
    terms
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn fence() -> &'static Geofence {
        static F: std::sync::OnceLock<Geofence> = std::sync::OnceLock::new();
        F.get_or_init(Geofence::embedded)
    }

    fn address(id: &str, region: &str, (lat, lon): (f64, f64), residential: bool) -> Address {
        Address {
            id: AddressId::parse(id).unwrap(),
            region: region.into(),
            municipality: "Москва".into(),
            street: "улица Тверская".into(),
            house: "7".into(),
            flat: Some("12".into()),
            residential,
            position: Coordinates::parse(lat, lon).unwrap(),
        }
    }

    const TVERSKAYA: (f64, f64) = (55.7577, 37.6130);
    const KHIMKI: (f64, f64) = (55.8887, 37.4304);
    const TVER: (f64, f64) = (56.8587, 35.9176);

    fn ctx(current: Option<CurrentNotice>) -> NoticeContext {
        NoticeContext {
            status: RegistrationStatus::Registered,
            registration_start: date(2025, 11, 20),
            today: date(2025, 12, 1),
            current,
        }
    }

    #[test]
    fn ids_regions_and_names_are_parsed_once() {
        assert!(AddressId::parse(" 6f1c2e9a-0b7d-4c1e-9a55-2f0e4c8b1d01 ").is_ok());
        assert_eq!(
            AddressId::parse("").unwrap_err().code(),
            "invalid_address_id"
        );
        assert!(AddressId::parse("a b").is_err());
        assert!(AddressId::parse(&"x".repeat(65)).is_err());
        assert_eq!(parse_region("ru-mow").unwrap(), "RU-MOW");
        assert!(parse_region("77").is_err());
        assert!(parse_region("RU-MOSCOW").is_err());
        assert_eq!(HostName::parse(Some("   ")).unwrap(), None);
        assert_eq!(HostName::parse(None).unwrap(), None);
        assert_eq!(
            HostName::parse(Some("  ООО  «Ромашка» "))
                .unwrap()
                .unwrap()
                .as_str(),
            "ООО «Ромашка»"
        );
        assert!(HostName::parse(Some("a\u{0}b")).is_err());
        assert!(HostName::parse(Some(&"я".repeat(201))).is_err());
        assert!(HostName::parse(Some(&"я".repeat(200))).is_ok());
        assert_eq!(
            clean_text(" улица   Тверская ", "street").unwrap(),
            "улица Тверская"
        );
        assert!(clean_text(" ", "street").is_err());
    }

    #[test]
    fn register_entries_must_lie_in_their_pilot_region() {
        let f = fence();
        assert!(check_register_entry(&address("a1", "RU-MOW", TVERSKAYA, true), f).is_ok());
        assert!(check_register_entry(&address("a2", "RU-MOS", KHIMKI, true), f).is_ok());
        // Khimki is in the oblast, not in the city.
        assert_eq!(
            check_register_entry(&address("a3", "RU-MOW", KHIMKI, true), f)
                .unwrap_err()
                .code(),
            "coordinates_outside_region"
        );
        assert_eq!(
            check_register_entry(&address("a4", "RU-TVE", TVER, true), f)
                .unwrap_err()
                .code(),
            "region_not_in_pilot"
        );
        assert_eq!(
            check_register_entry(&address("a5", "RU-MOS", TVER, true), f)
                .unwrap_err()
                .code(),
            "coordinates_outside_region"
        );
    }

    #[test]
    fn only_residential_addresses_in_the_region_are_accepted() {
        let f = fence();
        let rules = NoticeRules::default();
        let home = address("a1", "RU-MOW", TVERSKAYA, true);
        let d = date(2025, 12, 1);
        assert_eq!(
            decide_notice(&rules, f, &ctx(None), &home, d, &None),
            Ok(NoticeDecision::Accept)
        );
        let office = address("a2", "RU-MOW", TVERSKAYA, false);
        assert_eq!(
            decide_notice(&rules, f, &ctx(None), &office, d, &None),
            Err(NoticeRefusal::NotResidential)
        );
        let tver = address("a3", "RU-TVE", TVER, true);
        assert_eq!(
            decide_notice(&rules, f, &ctx(None), &tver, d, &None),
            Err(NoticeRefusal::OutsideRegion)
        );
        let mut deregistered = ctx(None);
        deregistered.status = RegistrationStatus::Deregistered;
        assert_eq!(
            decide_notice(&rules, f, &deregistered, &home, d, &None)
                .unwrap_err()
                .code(),
            "not_registered"
        );
    }

    #[test]
    fn date_rules() {
        let f = fence();
        let rules = NoticeRules { max_days_ahead: 7 };
        let home = address("a1", "RU-MOW", TVERSKAYA, true);
        let decide = |d, c| decide_notice(&rules, f, &ctx(c), &home, d, &None);
        // From the registration's first day, up to 7 days after today.
        assert!(decide(date(2025, 11, 20), None).is_ok());
        assert_eq!(
            decide(date(2025, 11, 19), None),
            Err(NoticeRefusal::BeforeRegistration {
                start: date(2025, 11, 20)
            })
        );
        assert!(decide(date(2025, 12, 8), None).is_ok());
        assert_eq!(
            decide(date(2025, 12, 9), None),
            Err(NoticeRefusal::TooFarAhead {
                max_days: 7,
                latest: date(2025, 12, 8)
            })
        );
        // Not before the notice it replaces; the same day is a correction.
        let current = || {
            Some(CurrentNotice {
                address_id: AddressId::parse("other").unwrap(),
                date_from: date(2025, 11, 25),
                host_name: None,
            })
        };
        assert_eq!(
            decide(date(2025, 11, 24), current()).unwrap_err().code(),
            "date_before_current_notice"
        );
        assert_eq!(
            decide(date(2025, 11, 25), current()),
            Ok(NoticeDecision::Accept)
        );
    }

    #[test]
    fn the_current_notice_again_is_a_retry() {
        let f = fence();
        let rules = NoticeRules::default();
        let home = address("a1", "RU-MOW", TVERSKAYA, true);
        let host = HostName::parse(Some("Иванов И. И.")).unwrap();
        let current = CurrentNotice {
            address_id: home.id.clone(),
            date_from: date(2025, 11, 25),
            host_name: host.clone(),
        };
        let c = ctx(Some(current));
        assert_eq!(
            decide_notice(&rules, f, &c, &home, date(2025, 11, 25), &host),
            Ok(NoticeDecision::SameAsCurrent)
        );
        // Another host party is a new notice.
        assert_eq!(
            decide_notice(&rules, f, &c, &home, date(2025, 11, 25), &None),
            Ok(NoticeDecision::Accept)
        );
    }

    #[test]
    fn notice_states() {
        assert_eq!(NoticeState::of(false, false), NoticeState::Current);
        assert_eq!(NoticeState::of(true, false), NoticeState::Superseded);
        assert_eq!(NoticeState::of(true, true), NoticeState::Superseded);
        assert_eq!(NoticeState::of(false, true), NoticeState::Ended);
    }

    #[test]
    fn search_is_tolerant_of_case_punctuation_and_street_kinds() {
        let a = Address {
            house: "12 к 1".into(),
            street: "улица Шарикоподшипниковская".into(),
            ..address("a1", "RU-MOW", TVERSKAYA, true)
        };
        let text = search_text(&a);
        for q in [
            "ул. Шарикоподшипниковская, д. 12к1, кв. 12",
            "шарикоподшипниковская 12к1",
            "ШАРИКОПОДШИПНИКОВСКАЯ 12",
            "улица шарико 12 к1",
        ] {
            let terms = query_terms(q);
            assert!(!terms.is_empty(), "{q}");
            assert!(
                terms.iter().all(|t| text.contains(t.as_str())),
                "{q}: {terms:?} in {text}"
            );
        }
        assert!(query_terms("ул. д. кв.").is_empty());
        assert_eq!(normalize_search_text("Ёлочная  ул."), "елочная ул");
        assert_eq!(query_terms("a b c d e f g h i j").len(), MAX_QUERY_TERMS);
        assert_eq!(query_terms("мира мира"), vec!["мира".to_string()]);
    }
}
