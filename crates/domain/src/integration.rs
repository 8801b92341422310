//! Events from the federal migration system, and what each one does here.
//!
//! DESIGN.md: "Leaving for a region outside the pilot, the person registers
//! there the ordinary way; that registration deregisters them here
//! automatically", and the deregistration reasons "registered in another
//! region", "left the country" and "document no longer valid" come from the
//! federal system. This module is the one place that decides, for one event
//! and the person it names, what must change. The store loads the person,
//! calls [`decide`] inside its transaction and writes the answer, so a
//! first delivery, a repeated delivery and a replay by an officer all go
//! through the same rule.
//!
//! The rules (each has a test below):
//! - **Registered in region X.** X outside the pilot: deregister with
//!   reason `registered_elsewhere`, effective at the event's time. X inside
//!   the pilot (Moscow, Moscow Oblast): nothing changes here — the person
//!   is still registered in the pilot region; the event is stored and the
//!   outcome says why.
//! - **Left the Russian Federation.** Deregister (`left_country`).
//! - **Document invalidated.** Deregister (`document_invalid`), and the card
//!   can no longer be used to enrol. Only the person's current card counts:
//!   an invalidated card that was already replaced changes nothing.
//! - **Card reissued.** The person keeps their id, history, device and
//!   registration; their card number becomes the new one. The old number
//!   still finds the person for later events.
//!
//! Out of order: events are judged by the time they happened (`occurred_at`),
//! not by the time they arrived.
//! - A move (registered elsewhere, left the country) older than the start
//!   of the person's current registration does not end it: the person came
//!   back and enrolled again after that move.
//! - A document invalidation ends a registration however late it arrives:
//!   the document was invalid, whatever happened after.
//! - A card reissue older than the last applied reissue changes nothing.
//! - A person already deregistered stays deregistered with the original
//!   reason (one deregistration per registration).
//!
//! Every event is also checked before it is stored: its time must not lie
//! in the future beyond the clock-skew allowance, and its Moscow date must
//! be inside the loaded production calendar (a date outside it is an error,
//! never a guess).

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::calendar::{CalendarError, ProductionCalendar};
use crate::monitor::RegistrationStatus;
use crate::monitor::{Deregistration, DeregistrationReason, PersonState, Presence};
use crate::rule::{DayKind, MonitoringWindow};
use crate::signal::{RuleSignal, SignalKind};
use crate::time::{format_moscow, moscow_date};
use crate::types::CardNumber;

/// Version of the rules in this module, recorded with every deregistration
/// an event causes.
pub const RULE_VERSION: &str = "federal-events/1";

/// The kinds of inbound events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    RegisteredInRegion,
    LeftCountry,
    DocumentInvalidated,
    CardReissued,
}

impl EventKind {
    pub const ALL: [EventKind; 4] = [
        EventKind::RegisteredInRegion,
        EventKind::LeftCountry,
        EventKind::DocumentInvalidated,
        EventKind::CardReissued,
    ];

    pub fn code(self) -> &'static str {
        match self {
            EventKind::RegisteredInRegion => "registered_in_region",
            EventKind::LeftCountry => "left_country",
            EventKind::DocumentInvalidated => "document_invalidated",
            EventKind::CardReissued => "card_reissued",
        }
    }

    pub fn from_code(code: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// A sender's id for an event: 1 to 128 characters from `A-Z a-z 0-9 . _ : -`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EventId(String);

impl EventId {
    /// What [`EventId::parse`] accepts, as a regular expression (for the
    /// API description).
    pub const PATTERN: &'static str = "^[A-Za-z0-9._:-]{1,128}$";

    pub fn parse(raw: &str) -> Result<Self, EventRefusal> {
        let ok = !raw.is_empty()
            && raw.len() <= 128
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
        if ok {
            Ok(EventId(raw.to_string()))
        } else {
            Err(EventRefusal::EventId)
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for EventId {
    type Error = EventRefusal;
    fn try_from(s: String) -> Result<Self, EventRefusal> {
        EventId::parse(&s)
    }
}

impl From<EventId> for String {
    fn from(e: EventId) -> String {
        e.0
    }
}

/// A Russian region as ISO 3166-2 names it (`RU-MOW`, `RU-TVE`, …).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RegionCode(String);

impl RegionCode {
    /// What [`RegionCode::parse`] accepts, as a regular expression (for
    /// the API description).
    pub const PATTERN: &'static str = "^RU-[A-Z]{2,3}$";

    pub fn parse(raw: &str) -> Result<Self, EventRefusal> {
        let rest = raw.strip_prefix("RU-").ok_or(EventRefusal::Region)?;
        if (2..=3).contains(&rest.len()) && rest.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(RegionCode(raw.to_string()))
        } else {
            Err(EventRefusal::Region)
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for RegionCode {
    type Error = EventRefusal;
    fn try_from(s: String) -> Result<Self, EventRefusal> {
        RegionCode::parse(&s)
    }
}

impl From<RegionCode> for String {
    fn from(r: RegionCode) -> String {
        r.0
    }
}

/// What an event says, by kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventBody {
    RegisteredInRegion {
        region: RegionCode,
    },
    LeftCountry,
    DocumentInvalidated,
    CardReissued {
        new_card_number: CardNumber,
        new_card_valid_until: Date,
    },
}

impl EventBody {
    pub fn kind(&self) -> EventKind {
        match self {
            EventBody::RegisteredInRegion { .. } => EventKind::RegisteredInRegion,
            EventBody::LeftCountry => EventKind::LeftCountry,
            EventBody::DocumentInvalidated => EventKind::DocumentInvalidated,
            EventBody::CardReissued { .. } => EventKind::CardReissued,
        }
    }
}

/// One inbound event, parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundEvent {
    pub event_id: EventId,
    /// The card the event is about (for a reissue: the old card).
    pub card_number: CardNumber,
    /// When it happened at the federal system (truncated to milliseconds).
    pub occurred_at: Timestamp,
    #[serde(flatten)]
    pub body: EventBody,
}

/// Why an event is refused before anything is stored. `code()` reaches the
/// sender in the error body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventRefusal {
    #[error("unknown event type {0:?}; known: registered_in_region, left_country, document_invalidated, card_reissued")]
    UnknownType(String),
    #[error("event_id must be 1 to 128 characters from A-Z a-z 0-9 . _ : -")]
    EventId,
    #[error("region must be an ISO 3166-2 code of a Russian region, e.g. RU-TVE")]
    Region,
    #[error("{0} is required for this event type")]
    Missing(&'static str),
    #[error("{0} is not allowed for this event type")]
    NotAllowed(&'static str),
    #[error("occurred_at must be an RFC 3339 instant")]
    Instant,
    #[error("new_card_valid_until must be a date YYYY-MM-DD")]
    Date,
    #[error("the event's time is in the future beyond the clock-skew allowance")]
    InFuture,
    #[error("the event's date is outside the loaded production calendar: {0}")]
    OutsideCalendar(CalendarError),
    #[error("a reissued card must have a new number")]
    SameCard,
    #[error("{0} must be 6 to 20 letters or digits")]
    CardNumber(&'static str),
}

impl EventRefusal {
    pub fn code(&self) -> &'static str {
        match self {
            EventRefusal::UnknownType(_) => "unknown_event_type",
            EventRefusal::EventId => "invalid_event_id",
            EventRefusal::Region => "invalid_region",
            EventRefusal::Missing(_) => "missing_field",
            EventRefusal::NotAllowed(_) => "field_not_allowed",
            EventRefusal::Instant => "invalid_occurred_at",
            EventRefusal::Date => "invalid_date",
            EventRefusal::InFuture => "occurred_in_future",
            EventRefusal::OutsideCalendar(_) => "date_outside_calendar",
            EventRefusal::SameCard => "same_card_number",
            EventRefusal::CardNumber(_) => "invalid_card_number",
        }
    }
}

/// Check an event's time at `now`: not in the future beyond `skew`, and its
/// Moscow date covered by the calendar.
pub fn check_time(
    event: &InboundEvent,
    calendar: &ProductionCalendar,
    now: Timestamp,
    skew: SignedDuration,
) -> Result<(), EventRefusal> {
    if event.occurred_at > now + skew {
        return Err(EventRefusal::InFuture);
    }
    calendar
        .is_working_day(moscow_date(event.occurred_at))
        .map_err(EventRefusal::OutsideCalendar)?;
    Ok(())
}

/// What the rules need to know about the person an event names.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonFacts {
    pub status: RegistrationStatus,
    pub registration_started_at: Timestamp,
    /// The card the person holds now.
    pub current_card: CardNumber,
    /// When the last applied card reissue happened.
    pub card_changed_at: Option<Timestamp>,
    /// For a reissue: the new number already belongs to another person.
    pub new_card_taken: bool,
}

/// What became of an event. Stored with it and shown to officers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The registration ended.
    Deregistered,
    /// The person's card number was replaced.
    CardReplaced,
    /// Registered in a pilot region: the registration here continues.
    RegisteredInPilot,
    /// The person was already deregistered; nothing changed.
    AlreadyDeregistered,
    /// The event happened before the person's current registration began.
    OlderThanRegistration,
    /// The event is about a card the person no longer holds.
    CardNotCurrent,
    /// A newer card reissue was already applied.
    OlderThanCardChange,
    /// The person already holds the new card.
    CardAlreadyCurrent,
    /// The new card number belongs to another person: an officer must look.
    CardInUse,
    /// No person here holds the card: stored, reported, replayable.
    UnknownPerson,
}

impl Outcome {
    pub const ALL: [Outcome; 10] = [
        Outcome::Deregistered,
        Outcome::CardReplaced,
        Outcome::RegisteredInPilot,
        Outcome::AlreadyDeregistered,
        Outcome::OlderThanRegistration,
        Outcome::CardNotCurrent,
        Outcome::OlderThanCardChange,
        Outcome::CardAlreadyCurrent,
        Outcome::CardInUse,
        Outcome::UnknownPerson,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Outcome::Deregistered => "deregistered",
            Outcome::CardReplaced => "card_replaced",
            Outcome::RegisteredInPilot => "registered_in_pilot",
            Outcome::AlreadyDeregistered => "already_deregistered",
            Outcome::OlderThanRegistration => "older_than_registration",
            Outcome::CardNotCurrent => "card_not_current",
            Outcome::OlderThanCardChange => "older_than_card_change",
            Outcome::CardAlreadyCurrent => "card_already_current",
            Outcome::CardInUse => "card_in_use",
            Outcome::UnknownPerson => "unknown_person",
        }
    }

    pub fn from_code(code: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.code() == code)
    }

    /// The event changed something.
    pub fn applied(self) -> bool {
        matches!(self, Outcome::Deregistered | Outcome::CardReplaced)
    }

    /// The stored status: `applied`, `no_change` or `unknown_person`.
    pub fn status(self) -> &'static str {
        match self {
            Outcome::Deregistered | Outcome::CardReplaced => "applied",
            Outcome::UnknownPerson => "unknown_person",
            _ => "no_change",
        }
    }

    /// A plain sentence for officers and the sender.
    pub fn explanation(self) -> &'static str {
        match self {
            Outcome::Deregistered => "the registration in the pilot region ended",
            Outcome::CardReplaced => {
                "the person's card was replaced; the person and their history are kept"
            }
            Outcome::RegisteredInPilot => {
                "the region is part of the pilot, so the registration here continues"
            }
            Outcome::AlreadyDeregistered => {
                "the person was already deregistered; the first reason stays on record"
            }
            Outcome::OlderThanRegistration => {
                "the event happened before the person's current registration began, \
                 so it does not end that registration"
            }
            Outcome::CardNotCurrent => "the card was already replaced by a newer one",
            Outcome::OlderThanCardChange => "a newer card reissue was already applied",
            Outcome::CardAlreadyCurrent => "the person already holds the new card",
            Outcome::CardInUse => {
                "the new card number belongs to another person; an officer must check"
            }
            Outcome::UnknownPerson => {
                "no enrolled person holds this card; the event is kept and can be replayed"
            }
        }
    }
}

/// What the store must do for an event.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    None,
    Deregister(Deregistration),
    ReplaceCard {
        new_card_number: CardNumber,
        valid_until: Date,
    },
}

/// The decision for one event.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub outcome: Outcome,
    pub action: Action,
}

impl Decision {
    fn nothing(outcome: Outcome) -> Self {
        Decision {
            outcome,
            action: Action::None,
        }
    }
}

/// Decide what an event does to the person it names (`None`: nobody here
/// holds the card). `pilot` lists the pilot regions' ISO 3166-2 codes;
/// `sender` and `received_at` go into the evidence.
pub fn decide(
    event: &InboundEvent,
    person: Option<&PersonFacts>,
    pilot: &[&str],
    sender: &str,
    received_at: Timestamp,
) -> Decision {
    if let EventBody::RegisteredInRegion { region } = &event.body {
        if pilot.contains(&region.as_str()) {
            return Decision::nothing(Outcome::RegisteredInPilot);
        }
    }
    let Some(p) = person else {
        return Decision::nothing(Outcome::UnknownPerson);
    };
    let reason = match &event.body {
        EventBody::CardReissued {
            new_card_number,
            new_card_valid_until,
        } => {
            return if *new_card_number == p.current_card {
                Decision::nothing(Outcome::CardAlreadyCurrent)
            } else if p.card_changed_at.is_some_and(|c| c >= event.occurred_at) {
                Decision::nothing(Outcome::OlderThanCardChange)
            } else if p.new_card_taken {
                Decision::nothing(Outcome::CardInUse)
            } else {
                Decision {
                    outcome: Outcome::CardReplaced,
                    action: Action::ReplaceCard {
                        new_card_number: new_card_number.clone(),
                        valid_until: *new_card_valid_until,
                    },
                }
            };
        }
        EventBody::RegisteredInRegion { .. } => DeregistrationReason::RegisteredElsewhere,
        EventBody::LeftCountry => DeregistrationReason::LeftCountry,
        EventBody::DocumentInvalidated => {
            if event.card_number != p.current_card {
                return Decision::nothing(Outcome::CardNotCurrent);
            }
            DeregistrationReason::DocumentInvalid
        }
    };
    if p.status != RegistrationStatus::Registered {
        return Decision::nothing(Outcome::AlreadyDeregistered);
    }
    // A move is superseded by a later enrolment here; an invalid document
    // is not (see the module docs).
    if reason != DeregistrationReason::DocumentInvalid
        && event.occurred_at < p.registration_started_at
    {
        return Decision::nothing(Outcome::OlderThanRegistration);
    }
    // The registration cannot end before it began (an invalidation older
    // than the registration ends it at its start).
    let effective_at = event.occurred_at.max(p.registration_started_at);
    let region = match &event.body {
        EventBody::RegisteredInRegion { region } => Some(region.as_str().to_string()),
        _ => None,
    };
    Decision {
        outcome: Outcome::Deregistered,
        action: Action::Deregister(Deregistration {
            reason,
            effective_at,
            evidence: serde_json::json!({
                "source": "federal_migration_system",
                "sender": sender,
                "event_id": event.event_id.as_str(),
                "event_type": event.body.kind().code(),
                "region": region,
                "occurred_at": event.occurred_at.to_string(),
                "received_at": received_at.to_string(),
            }),
            rule_version: RULE_VERSION.to_string(),
        }),
    }
}

/// "Outside too long": a registered person whose trusted fixes have placed
/// them outside the pilot region since `outside_since` for more than
/// `working_days` working days, with no "registered in region X" event
/// since, must register where they are (Federal Law 109-FZ, art. 20: a
/// foreign citizen notifies their place of stay within seven working days
/// of arrival — hence the default of 7 in the configuration). This raises a
/// signal for a migration officer, never a deregistration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutsideRule {
    pub working_days: u32,
}

impl OutsideRule {
    /// The last instant the person may stay outside without the signal:
    /// the end of the `working_days`-th working day after the Moscow day
    /// they were first seen outside.
    pub fn limit(
        &self,
        calendar: &ProductionCalendar,
        outside_since: Timestamp,
    ) -> Result<Timestamp, CalendarError> {
        let window = MonitoringWindow {
            days: self.working_days.max(1),
            kind: DayKind::Working,
        };
        window.deadline(calendar, outside_since)
    }

    /// The signal due at `now`, if any. `registered_elsewhere_at` is the
    /// time of the person's latest "registered in region X" event.
    pub fn check(
        &self,
        calendar: &ProductionCalendar,
        state: &PersonState,
        registered_elsewhere_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<Option<RuleSignal>, CalendarError> {
        if state.status != RegistrationStatus::Registered || state.presence != Presence::Outside {
            return Ok(None);
        }
        let Some(since) = state.presence_since else {
            return Ok(None);
        };
        if registered_elsewhere_at.is_some_and(|t| t >= since) {
            return Ok(None);
        }
        let limit = self.limit(calendar, since)?;
        if now <= limit {
            return Ok(None);
        }
        let position = state.last_trusted.as_ref();
        Ok(Some(RuleSignal {
            kind: SignalKind::OutsideTooLong,
            dedup_key: since.to_string(),
            raised_at: now,
            explanation: format!(
                "Outside the pilot region since {} for more than {} working days, and the \
                 federal migration system reports no registration elsewhere. The person was \
                 told to register where they are.",
                format_moscow(since),
                self.working_days
            ),
            evidence: serde_json::json!({
                "outside_since": since.to_string(),
                "working_days": self.working_days,
                "limit_passed_at": limit.to_string(),
                "last_trusted_at": position.map(|p| p.recorded_at.to_string()),
                "lat": position.map(|p| p.lat),
                "lon": position.map(|p| p.lon),
                "registered_elsewhere_at": registered_elsewhere_at.map(|t| t.to_string()),
            }),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_moscow;

    const PILOT: &[&str] = &["RU-MOW", "RU-MOS"];

    fn msk(s: &str) -> Timestamp {
        parse_moscow(s).unwrap()
    }

    fn card(n: &str) -> CardNumber {
        CardNumber::parse(n).unwrap()
    }

    fn event(at: &str, body: EventBody) -> InboundEvent {
        InboundEvent {
            event_id: EventId::parse("fms-1").unwrap(),
            card_number: card("AB0000001"),
            occurred_at: msk(at),
            body,
        }
    }

    fn elsewhere(region: &str) -> EventBody {
        EventBody::RegisteredInRegion {
            region: RegionCode::parse(region).unwrap(),
        }
    }

    fn registered_since(at: &str) -> PersonFacts {
        PersonFacts {
            status: RegistrationStatus::Registered,
            registration_started_at: msk(at),
            current_card: card("AB0000001"),
            card_changed_at: None,
            new_card_taken: false,
        }
    }

    fn run(e: &InboundEvent, p: Option<&PersonFacts>) -> Decision {
        decide(e, p, PILOT, "fms", msk("2025-12-10T12:00"))
    }

    fn reason(d: &Decision) -> Option<DeregistrationReason> {
        match &d.action {
            Action::Deregister(x) => Some(x.reason),
            _ => None,
        }
    }

    #[test]
    fn registered_outside_the_pilot_deregisters_with_evidence() {
        let p = registered_since("2025-11-01T10:00");
        let e = event("2025-12-01T09:00", elsewhere("RU-TVE"));
        let d = run(&e, Some(&p));
        assert_eq!(d.outcome, Outcome::Deregistered);
        let Action::Deregister(x) = d.action else {
            panic!("expected a deregistration")
        };
        assert_eq!(x.reason, DeregistrationReason::RegisteredElsewhere);
        assert_eq!(x.effective_at, msk("2025-12-01T09:00"));
        assert_eq!(x.evidence["region"], "RU-TVE");
        assert_eq!(x.evidence["event_id"], "fms-1");
        assert_eq!(x.rule_version, RULE_VERSION);
    }

    #[test]
    fn registered_inside_the_pilot_changes_nothing() {
        let p = registered_since("2025-11-01T10:00");
        for r in ["RU-MOW", "RU-MOS"] {
            let d = run(&event("2025-12-01T09:00", elsewhere(r)), Some(&p));
            assert_eq!(d.outcome, Outcome::RegisteredInPilot);
            assert_eq!(d.action, Action::None);
        }
        // Even for an unknown person: the outcome says why nothing happens.
        let d = run(&event("2025-12-01T09:00", elsewhere("RU-MOW")), None);
        assert_eq!(d.outcome, Outcome::RegisteredInPilot);
    }

    #[test]
    fn left_country_and_invalid_document_deregister() {
        let p = registered_since("2025-11-01T10:00");
        let d = run(&event("2025-12-01T09:00", EventBody::LeftCountry), Some(&p));
        assert_eq!(reason(&d), Some(DeregistrationReason::LeftCountry));
        let d = run(
            &event("2025-12-01T09:00", EventBody::DocumentInvalidated),
            Some(&p),
        );
        assert_eq!(reason(&d), Some(DeregistrationReason::DocumentInvalid));
    }

    #[test]
    fn a_move_older_than_the_current_registration_does_not_end_it() {
        // Registered in Tver on 1 Nov, came back and enrolled here on 5 Nov;
        // the Tver event arrives late.
        let p = registered_since("2025-11-05T10:00");
        for body in [elsewhere("RU-TVE"), EventBody::LeftCountry] {
            let d = run(&event("2025-11-01T09:00", body), Some(&p));
            assert_eq!(d.outcome, Outcome::OlderThanRegistration);
            assert_eq!(d.action, Action::None);
        }
    }

    #[test]
    fn an_invalid_document_ends_even_a_later_registration() {
        let p = registered_since("2025-11-05T10:00");
        let d = run(
            &event("2025-11-01T09:00", EventBody::DocumentInvalidated),
            Some(&p),
        );
        let Action::Deregister(x) = d.action else {
            panic!("expected a deregistration")
        };
        assert_eq!(x.reason, DeregistrationReason::DocumentInvalid);
        // It cannot end before it began.
        assert_eq!(x.effective_at, msk("2025-11-05T10:00"));
    }

    #[test]
    fn a_deregistered_person_keeps_the_first_reason() {
        let mut p = registered_since("2025-11-01T10:00");
        p.status = RegistrationStatus::Deregistered;
        for body in [
            elsewhere("RU-TVE"),
            EventBody::LeftCountry,
            EventBody::DocumentInvalidated,
        ] {
            let d = run(&event("2025-12-01T09:00", body), Some(&p));
            assert_eq!(d.outcome, Outcome::AlreadyDeregistered);
        }
    }

    #[test]
    fn unknown_people_are_reported() {
        for body in [
            elsewhere("RU-TVE"),
            EventBody::LeftCountry,
            EventBody::DocumentInvalidated,
        ] {
            let d = run(&event("2025-12-01T09:00", body), None);
            assert_eq!(d.outcome, Outcome::UnknownPerson);
            assert_eq!(d.outcome.status(), "unknown_person");
        }
    }

    fn reissue(to: &str) -> EventBody {
        EventBody::CardReissued {
            new_card_number: card(to),
            new_card_valid_until: jiff::civil::date(2030, 1, 1),
        }
    }

    #[test]
    fn card_reissue_replaces_the_card_once_and_in_time_order() {
        let mut p = registered_since("2025-11-01T10:00");
        let d = run(&event("2025-12-01T09:00", reissue("AB0000009")), Some(&p));
        assert_eq!(d.outcome, Outcome::CardReplaced);
        assert!(matches!(d.action, Action::ReplaceCard { .. }));
        // After it was applied:
        p.current_card = card("AB0000009");
        p.card_changed_at = Some(msk("2025-12-01T09:00"));
        let again = run(&event("2025-12-01T09:00", reissue("AB0000009")), Some(&p));
        assert_eq!(again.outcome, Outcome::CardAlreadyCurrent);
        // An older reissue to another number arrives late.
        let older = run(&event("2025-11-20T09:00", reissue("AB0000008")), Some(&p));
        assert_eq!(older.outcome, Outcome::OlderThanCardChange);
        // A newer one applies.
        let newer = run(&event("2025-12-05T09:00", reissue("AB0000007")), Some(&p));
        assert_eq!(newer.outcome, Outcome::CardReplaced);
        // The old card's invalidation does not touch the new card.
        let old = run(
            &event("2025-12-06T09:00", EventBody::DocumentInvalidated),
            Some(&p),
        );
        assert_eq!(old.outcome, Outcome::CardNotCurrent);
        // A reissue works for a deregistered person too (keeps the card right).
        p.status = RegistrationStatus::Deregistered;
        let d = run(&event("2025-12-07T09:00", reissue("AB0000006")), Some(&p));
        assert_eq!(d.outcome, Outcome::CardReplaced);
        p.new_card_taken = true;
        let d = run(&event("2025-12-07T09:00", reissue("AB0000006")), Some(&p));
        assert_eq!(d.outcome, Outcome::CardInUse);
    }

    #[test]
    fn event_times_are_checked_against_now_and_the_calendar() {
        let cal = ProductionCalendar::embedded();
        let skew = SignedDuration::from_mins(5);
        let now = msk("2025-12-10T12:00");
        let e = event("2025-12-10T12:04", EventBody::LeftCountry);
        assert_eq!(check_time(&e, &cal, now, skew), Ok(()));
        let e = event("2025-12-10T12:06", EventBody::LeftCountry);
        assert_eq!(check_time(&e, &cal, now, skew), Err(EventRefusal::InFuture));
        let e = event("2019-06-01T12:00", EventBody::LeftCountry);
        let err = check_time(&e, &cal, now, skew).unwrap_err();
        assert_eq!(err.code(), "date_outside_calendar");
    }

    #[test]
    fn ids_and_regions_are_parsed_strictly() {
        assert!(EventId::parse("fms:2025-12-01.0001_a").is_ok());
        for bad in ["", "a b", "ид", &"x".repeat(129)] {
            assert_eq!(EventId::parse(bad), Err(EventRefusal::EventId), "{bad}");
        }
        assert!(RegionCode::parse("RU-TVE").is_ok());
        assert!(RegionCode::parse("RU-MO").is_ok());
        for bad in ["TVE", "RU-tve", "RU-TVER", "US-CA", "RU-"] {
            assert_eq!(RegionCode::parse(bad), Err(EventRefusal::Region), "{bad}");
        }
        for k in EventKind::ALL {
            assert_eq!(EventKind::from_code(k.code()), Some(k));
        }
        for o in Outcome::ALL {
            assert_eq!(Outcome::from_code(o.code()), Some(o));
        }
    }

    #[test]
    fn events_round_trip_through_json() {
        let e = event("2025-12-01T09:00", reissue("AB0000009"));
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["type"], "card_reissued");
        assert_eq!(json["new_card_number"], "AB0000009");
        let back: InboundEvent = serde_json::from_value(json).unwrap();
        assert_eq!(back, e);
    }

    fn outside_state(since: &str) -> PersonState {
        PersonState {
            status: RegistrationStatus::Registered,
            registration_started_at: msk("2025-11-01T10:00"),
            last_monitoring_at: Some(msk(since)),
            deadline_at: msk("2025-12-31T23:59:59"),
            presence: Presence::Outside,
            presence_since: Some(msk(since)),
            last_trusted: None,
            pending_jump: None,
        }
    }

    #[test]
    fn outside_too_long_counts_working_days_on_the_calendar() {
        let cal = ProductionCalendar::embedded();
        let rule = OutsideRule { working_days: 3 };
        // Outside since Friday 28 Nov 2025: 3 working days after it end on
        // Wednesday 3 Dec (the weekend does not count).
        let s = outside_state("2025-11-28T18:00");
        assert_eq!(
            rule.limit(&cal, msk("2025-11-28T18:00")).unwrap(),
            msk("2025-12-03T23:59:59.999")
        );
        assert_eq!(
            rule.check(&cal, &s, None, msk("2025-12-03T23:00")).unwrap(),
            None
        );
        let sig = rule
            .check(&cal, &s, None, msk("2025-12-04T00:00"))
            .unwrap()
            .expect("due");
        assert_eq!(sig.kind, SignalKind::OutsideTooLong);
        assert_eq!(sig.dedup_key, msk("2025-11-28T18:00").to_string());
        // A registration elsewhere since then: no signal.
        let later = Some(msk("2025-12-01T10:00"));
        assert_eq!(
            rule.check(&cal, &s, later, msk("2025-12-04T00:00"))
                .unwrap(),
            None
        );
        // One from an earlier trip does not count.
        let earlier = Some(msk("2025-11-01T10:00"));
        assert!(rule
            .check(&cal, &s, earlier, msk("2025-12-04T00:00"))
            .unwrap()
            .is_some());
        // In the region, or deregistered: nothing.
        let mut inside = s.clone();
        inside.presence = Presence::InRegion;
        assert_eq!(
            rule.check(&cal, &inside, None, msk("2025-12-10T00:00"))
                .unwrap(),
            None
        );
        let mut gone = s.clone();
        gone.status = RegistrationStatus::Deregistered;
        assert_eq!(
            rule.check(&cal, &gone, None, msk("2025-12-10T00:00"))
                .unwrap(),
            None
        );
        // The New Year holidays lengthen the window.
        let ny = outside_state("2025-12-30T12:00");
        assert!(rule
            .check(&cal, &ny, None, msk("2026-01-09T12:00"))
            .unwrap()
            .is_none());
    }
}
