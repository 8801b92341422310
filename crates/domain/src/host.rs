//! Host parties (принимающая сторона): landlords and employers who house
//! enrolled people.
//!
//! DESIGN.md: children of enrolled migrants are NOT enrolled; "the host
//! party files their arrival". So a host party may file a child's arrival
//! notice, linked to an enrolled parent and never tracked (no device, no
//! fixes, no deadline). A host party also sees who is registered at the
//! addresses they host, and may state that a registered person does not
//! live there, which raises an `address_disputed` signal for an officer.
//!
//! The rules here, free of HTTP and SQL, so the console pages and both
//! stores ask the same questions:
//! - the child must be a minor (under 18) on the arrival date, and born on
//!   or before it;
//! - the parent must hold a registration in force (as for their own
//!   notices, a registration whose deadline has passed has ended);
//! - the address must be one of the host party's own properties, residential
//!   and inside the pilot region (the same test as a place-of-stay notice);
//! - the arrival date runs like a place-of-stay notice's date: not before the
//!   parent's registration started, not more than
//!   [`crate::stay::NoticeRules::max_days_ahead`] days after today, and not
//!   before the child's notice in force (history runs forward);
//! - a child is one person identified by citizenship and identity document,
//!   linked to one parent; filing exactly the notice in force again is a
//!   retry and changes nothing.

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::geofence::Geofence;
use crate::monitor::RegistrationStatus;
use crate::stay::{check_register_entry, Address, AddressId, NoticeRules};

/// Longest written statement a host party may give (as console reasons).
pub const MAX_STATEMENT: usize = crate::console::MAX_TEXT;

/// Most properties one host party account may hold.
pub const MAX_PROPERTIES: usize = 200;

/// Why a host-party input is malformed (before any rule is asked).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostInputError {
    #[error("an identity document number is 4 to 30 letters or digits (spaces and '-' allowed)")]
    Document,
    #[error("a name is required and must be at most 200 characters without control characters")]
    Name,
    #[error("a written statement is required")]
    StatementRequired,
    #[error("the statement is longer than {0} characters")]
    StatementTooLong(usize),
    #[error("at most {0} properties; each an address register id")]
    Properties(usize),
}

impl HostInputError {
    pub fn code(&self) -> &'static str {
        match self {
            HostInputError::Document => "invalid_document",
            HostInputError::Name => "invalid_person_name",
            HostInputError::StatementRequired => "statement_required",
            HostInputError::StatementTooLong(_) => "text_too_long",
            HostInputError::Properties(_) => "invalid_properties",
        }
    }
}

/// An identity document number (passport, birth certificate, foreign
/// passport): upper case, inner whitespace collapsed to one space, 4–30
/// characters of letters (any script: Russian birth certificates carry
/// Cyrillic letters), digits, spaces and `-`, at least one digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdentityDocument(String);

impl IdentityDocument {
    pub fn parse(raw: &str) -> Result<Self, HostInputError> {
        let s = raw
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_uppercase();
        let n = s.chars().count();
        let ok = (4..=30).contains(&n)
            && s.chars().any(|c| c.is_ascii_digit())
            && s.chars()
                .all(|c| c.is_alphanumeric() || c == ' ' || c == '-');
        if ok {
            Ok(IdentityDocument(s))
        } else {
            Err(HostInputError::Document)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for IdentityDocument {
    type Error = HostInputError;
    fn try_from(s: String) -> Result<Self, HostInputError> {
        IdentityDocument::parse(&s)
    }
}

impl From<IdentityDocument> for String {
    fn from(d: IdentityDocument) -> String {
        d.0
    }
}

/// A person's full name as written on their document: trimmed, inner
/// whitespace collapsed, 1–200 characters, no control characters.
pub fn person_name(raw: &str) -> Result<String, HostInputError> {
    crate::stay::clean_text(raw, "name").map_err(|_| HostInputError::Name)
}

/// The host party's written statement: required, trimmed, bounded.
pub fn statement(raw: Option<&str>) -> Result<String, HostInputError> {
    let t = raw.unwrap_or("").trim();
    if t.is_empty() {
        return Err(HostInputError::StatementRequired);
    }
    if t.chars().count() > MAX_STATEMENT {
        return Err(HostInputError::StatementTooLong(MAX_STATEMENT));
    }
    Ok(t.to_string())
}

/// A list of properties as an officer types it: register ids separated by
/// whitespace, commas or semicolons; duplicates dropped, order kept. An
/// empty list is allowed (a host party between tenancies).
pub fn parse_properties(raw: &str) -> Result<Vec<AddressId>, HostInputError> {
    let mut out: Vec<AddressId> = Vec::new();
    for part in raw.split(|c: char| c.is_whitespace() || c == ',' || c == ';') {
        if part.is_empty() {
            continue;
        }
        let id = AddressId::parse(part).map_err(|_| HostInputError::Properties(MAX_PROPERTIES))?;
        if !out.contains(&id) {
            out.push(id);
        }
    }
    if out.len() > MAX_PROPERTIES {
        return Err(HostInputError::Properties(MAX_PROPERTIES));
    }
    Ok(out)
}

/// A card number as a host party sees it: enough to recognise a tenant
/// whose card they have seen (the first two and the last three characters),
/// not enough to act for them (enrolment needs the whole number and the
/// secret).
pub fn mask_card(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    if chars.len() <= 5 {
        return "•".repeat(chars.len());
    }
    let head: String = chars[..2].iter().collect();
    let tail: String = chars[chars.len() - 3..].iter().collect();
    format!("{head}{}{tail}", "•".repeat(chars.len() - 5))
}

/// The age of majority in Russia (Civil Code art. 21).
pub const MAJORITY_YEARS: i16 = 18;

/// The day a person born on `birth` turns 18 (29 February births: 28
/// February in a common year).
pub fn adult_on(birth: Date) -> Date {
    let year = birth.year().saturating_add(MAJORITY_YEARS);
    let day = birth
        .day()
        .min(jiff::civil::date(year, birth.month(), 1).days_in_month());
    jiff::civil::date(year, birth.month(), day)
}

/// What the child-notice rules need to know beyond the notice itself.
#[derive(Debug, Clone, PartialEq)]
pub struct ChildNoticeContext {
    /// The parent's registration status now (a passed deadline counts as
    /// deregistered).
    pub parent_status: RegistrationStatus,
    /// Moscow date on which the parent's current registration started.
    pub parent_registration_start: Date,
    /// Today's Moscow date.
    pub today: Date,
    /// Whether the address is one of the filing host party's properties.
    pub host_property: bool,
    /// The child is already linked to a different parent.
    pub linked_to_other_parent: bool,
    /// The child's notice in force, if any.
    pub current: Option<CurrentChildNotice>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentChildNotice {
    pub address_id: AddressId,
    pub arrival_date: Date,
}

/// Why a child's arrival notice is refused. Nothing is stored then.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChildNoticeRefusal {
    #[error("the child turns 18 on {adult_on}, not after the arrival date: only minors are notified by the host party")]
    NotAMinor { adult_on: Date },
    #[error("the birth date is after the arrival date")]
    BornAfterArrival,
    #[error("the parent has no registration in force")]
    ParentNotRegistered,
    #[error("the address is not one of your properties")]
    NotYourProperty,
    #[error("the address is not residential")]
    NotResidential,
    #[error("the address is not inside the pilot region")]
    OutsideRegion,
    #[error("the arrival date is before the parent's registration started ({start})")]
    BeforeParentRegistration { start: Date },
    #[error("the arrival date is more than {max_days} days ahead (at most {latest})")]
    TooFarAhead { max_days: u32, latest: Date },
    #[error("the arrival date is before the child's notice in force ({current})")]
    BeforeCurrentNotice { current: Date },
    #[error("a child with this document is linked to another parent")]
    LinkedToAnotherParent,
}

impl ChildNoticeRefusal {
    pub fn code(&self) -> &'static str {
        match self {
            ChildNoticeRefusal::NotAMinor { .. } => "child_not_minor",
            ChildNoticeRefusal::BornAfterArrival => "child_born_after_arrival",
            ChildNoticeRefusal::ParentNotRegistered => "parent_not_registered",
            ChildNoticeRefusal::NotYourProperty => "address_not_yours",
            ChildNoticeRefusal::NotResidential => "address_not_residential",
            ChildNoticeRefusal::OutsideRegion => "address_outside_region",
            ChildNoticeRefusal::BeforeParentRegistration { .. } => "date_before_registration",
            ChildNoticeRefusal::TooFarAhead { .. } => "date_too_far_ahead",
            ChildNoticeRefusal::BeforeCurrentNotice { .. } => "date_before_current_notice",
            ChildNoticeRefusal::LinkedToAnotherParent => "child_linked_to_other_parent",
        }
    }
}

/// What to do with a child's notice that passed the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildNoticeDecision {
    /// Store it; it supersedes the child's notice in force, if any.
    Accept,
    /// It is the notice in force again (a retry): store nothing.
    SameAsCurrent,
}

/// Decide a child's arrival notice (see the module docs for the rules and
/// their order: who and where first, then the dates).
pub fn decide_child_notice(
    rules: &NoticeRules,
    geofence: &Geofence,
    ctx: &ChildNoticeContext,
    address: &Address,
    birth_date: Date,
    arrival_date: Date,
) -> Result<ChildNoticeDecision, ChildNoticeRefusal> {
    if birth_date > arrival_date {
        return Err(ChildNoticeRefusal::BornAfterArrival);
    }
    let adult = adult_on(birth_date);
    if arrival_date >= adult {
        return Err(ChildNoticeRefusal::NotAMinor { adult_on: adult });
    }
    if ctx.linked_to_other_parent {
        return Err(ChildNoticeRefusal::LinkedToAnotherParent);
    }
    if ctx.parent_status != RegistrationStatus::Registered {
        return Err(ChildNoticeRefusal::ParentNotRegistered);
    }
    if !ctx.host_property {
        return Err(ChildNoticeRefusal::NotYourProperty);
    }
    if check_register_entry(address, geofence).is_err() {
        return Err(ChildNoticeRefusal::OutsideRegion);
    }
    if !address.residential {
        return Err(ChildNoticeRefusal::NotResidential);
    }
    if let Some(c) = &ctx.current {
        if c.address_id == address.id && c.arrival_date == arrival_date {
            return Ok(ChildNoticeDecision::SameAsCurrent);
        }
    }
    if arrival_date < ctx.parent_registration_start {
        return Err(ChildNoticeRefusal::BeforeParentRegistration {
            start: ctx.parent_registration_start,
        });
    }
    let latest = ctx
        .today
        .checked_add(jiff::Span::new().days(i64::from(rules.max_days_ahead)))
        .unwrap_or(Date::MAX);
    if arrival_date > latest {
        return Err(ChildNoticeRefusal::TooFarAhead {
            max_days: rules.max_days_ahead,
            latest,
        });
    }
    if let Some(c) = &ctx.current {
        if arrival_date < c.arrival_date {
            return Err(ChildNoticeRefusal::BeforeCurrentNotice {
                current: c.arrival_date,
            });
        }
    }
    Ok(ChildNoticeDecision::Accept)
}

/// The `address_disputed` signal: a host party states that a person
/// registered at one of their addresses does not live there. It is about
/// the person (their registration may be fictitious) and carries the
/// address, the host party account, the statement and the date as evidence.
/// Raised once per person and address while one is open or in review (the
/// store checks that); its occurrence key is `<address id>@<instant>`, so a
/// later dispute after a decision is a new signal.
pub fn dispute_signal(
    address_id: &AddressId,
    host_account_id: i64,
    statement: &str,
    at: jiff::Timestamp,
) -> crate::signal::RuleSignal {
    crate::signal::RuleSignal {
        kind: crate::signal::SignalKind::AddressDisputed,
        dedup_key: format!("{}{}", dispute_key_prefix(address_id), at.as_millisecond()),
        raised_at: at,
        explanation: format!(
            "The host party of address {address_id} states that the person does not live there."
        ),
        evidence: serde_json::json!({
            "address_id": address_id.as_str(),
            "host_party_account_id": host_account_id,
            "statement": statement,
            "date": crate::time::moscow_date(at).to_string(),
            "at": at.to_string(),
        }),
    }
}

/// The start of every `address_disputed` occurrence key for an address
/// (address ids never contain `@`).
pub fn dispute_key_prefix(address_id: &AddressId) -> String {
    format!("{}@", address_id.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Coordinates;
    use jiff::civil::date;

    fn fence() -> &'static Geofence {
        static F: std::sync::OnceLock<Geofence> = std::sync::OnceLock::new();
        F.get_or_init(Geofence::embedded)
    }

    fn flat(residential: bool) -> Address {
        Address {
            id: AddressId::parse("tv-7-12").unwrap(),
            region: "RU-MOW".into(),
            municipality: "Москва".into(),
            street: "улица Тверская".into(),
            house: "7".into(),
            flat: Some("12".into()),
            residential,
            position: Coordinates::parse(55.7577, 37.6130).unwrap(),
        }
    }

    fn ctx() -> ChildNoticeContext {
        ChildNoticeContext {
            parent_status: RegistrationStatus::Registered,
            parent_registration_start: date(2025, 11, 20),
            today: date(2025, 12, 1),
            host_property: true,
            linked_to_other_parent: false,
            current: None,
        }
    }

    fn decide(
        c: &ChildNoticeContext,
        a: &Address,
        birth: Date,
        arrival: Date,
    ) -> Result<ChildNoticeDecision, ChildNoticeRefusal> {
        decide_child_notice(&NoticeRules::default(), fence(), c, a, birth, arrival)
    }

    #[test]
    fn documents_names_statements_and_properties_are_parsed_once() {
        assert_eq!(
            IdentityDocument::parse(" iv-мю  123456 ").unwrap().as_str(),
            "IV-МЮ 123456"
        );
        assert_eq!(
            IdentityDocument::parse("4510 123456").unwrap().as_str(),
            "4510 123456"
        );
        for bad in ["", "12", "ABCDEF", "45 10/123456", &"1".repeat(31)] {
            assert_eq!(
                IdentityDocument::parse(bad).unwrap_err().code(),
                "invalid_document",
                "{bad}"
            );
        }
        assert_eq!(
            person_name("  Каримова   Зарина ").unwrap(),
            "Каримова Зарина"
        );
        assert!(person_name(" ").is_err());
        assert_eq!(statement(None).unwrap_err().code(), "statement_required");
        assert_eq!(
            statement(Some(" \n ")).unwrap_err(),
            HostInputError::StatementRequired
        );
        assert_eq!(statement(Some(" never seen ")).unwrap(), "never seen");
        assert!(statement(Some(&"x".repeat(MAX_STATEMENT + 1))).is_err());
        let p = parse_properties("a1, a2;a1\n a3 ").unwrap();
        let ids: Vec<&str> = p.iter().map(|a| a.as_str()).collect();
        assert_eq!(ids, ["a1", "a2", "a3"]);
        assert!(parse_properties("").unwrap().is_empty());
        assert_eq!(
            parse_properties("ok bad/id").unwrap_err().code(),
            "invalid_properties"
        );
    }

    #[test]
    fn card_numbers_are_masked_for_host_parties() {
        assert_eq!(mask_card("AB0000001"), "AB••••001");
        assert_eq!(mask_card("DEMO000001"), "DE•••••001");
        assert_eq!(mask_card("ABC12"), "•••••");
    }

    #[test]
    fn majority_is_the_eighteenth_birthday() {
        assert_eq!(adult_on(date(2010, 5, 17)), date(2028, 5, 17));
        assert_eq!(adult_on(date(2008, 2, 29)), date(2026, 2, 28));
        let c = ctx();
        let a = flat(true);
        // Turns 18 the day after arrival: a minor. On the arrival day: not.
        assert!(decide(&c, &a, date(2007, 12, 2), date(2025, 12, 1)).is_ok());
        assert_eq!(
            decide(&c, &a, date(2007, 12, 1), date(2025, 12, 1)),
            Err(ChildNoticeRefusal::NotAMinor {
                adult_on: date(2025, 12, 1)
            })
        );
        assert_eq!(
            decide(&c, &a, date(2025, 12, 2), date(2025, 12, 1))
                .unwrap_err()
                .code(),
            "child_born_after_arrival"
        );
    }

    #[test]
    fn parent_address_and_link_rules() {
        let birth = date(2015, 3, 1);
        let d = date(2025, 12, 1);
        let mut c = ctx();
        c.parent_status = RegistrationStatus::Deregistered;
        assert_eq!(
            decide(&c, &flat(true), birth, d).unwrap_err().code(),
            "parent_not_registered"
        );
        let mut c = ctx();
        c.host_property = false;
        assert_eq!(
            decide(&c, &flat(true), birth, d),
            Err(ChildNoticeRefusal::NotYourProperty)
        );
        assert_eq!(
            decide(&ctx(), &flat(false), birth, d),
            Err(ChildNoticeRefusal::NotResidential)
        );
        let mut tver = flat(true);
        tver.region = "RU-TVE".into();
        tver.position = Coordinates::parse(56.8587, 35.9176).unwrap();
        assert_eq!(
            decide(&ctx(), &tver, birth, d),
            Err(ChildNoticeRefusal::OutsideRegion)
        );
        let mut c = ctx();
        c.linked_to_other_parent = true;
        assert_eq!(
            decide(&c, &flat(true), birth, d).unwrap_err().code(),
            "child_linked_to_other_parent"
        );
    }

    #[test]
    fn date_rules_follow_place_of_stay_notices() {
        let birth = date(2015, 3, 1);
        let a = flat(true);
        assert!(decide(&ctx(), &a, birth, date(2025, 11, 20)).is_ok());
        assert_eq!(
            decide(&ctx(), &a, birth, date(2025, 11, 19)),
            Err(ChildNoticeRefusal::BeforeParentRegistration {
                start: date(2025, 11, 20)
            })
        );
        assert!(decide(&ctx(), &a, birth, date(2025, 12, 8)).is_ok());
        assert_eq!(
            decide(&ctx(), &a, birth, date(2025, 12, 9))
                .unwrap_err()
                .code(),
            "date_too_far_ahead"
        );
        let mut c = ctx();
        c.current = Some(CurrentChildNotice {
            address_id: a.id.clone(),
            arrival_date: date(2025, 11, 25),
        });
        assert_eq!(
            decide(&c, &a, birth, date(2025, 11, 25)),
            Ok(ChildNoticeDecision::SameAsCurrent)
        );
        assert_eq!(
            decide(&c, &a, birth, date(2025, 11, 24))
                .unwrap_err()
                .code(),
            "date_before_current_notice"
        );
        assert_eq!(
            decide(&c, &a, birth, date(2025, 11, 28)),
            Ok(ChildNoticeDecision::Accept)
        );
    }

    #[test]
    fn a_dispute_signal_carries_its_evidence() {
        let at: jiff::Timestamp = "2025-12-01T09:00:00Z".parse().unwrap();
        let a = AddressId::parse("tv-7-12").unwrap();
        let s = dispute_signal(&a, 7, "never lived here", at);
        assert_eq!(s.kind.code(), "address_disputed");
        assert!(s.dedup_key.starts_with(&dispute_key_prefix(&a)));
        assert_eq!(s.evidence["address_id"], "tv-7-12");
        assert_eq!(s.evidence["host_party_account_id"], 7);
        assert_eq!(s.evidence["statement"], "never lived here");
        assert_eq!(s.evidence["date"], "2025-12-01");
    }
}
