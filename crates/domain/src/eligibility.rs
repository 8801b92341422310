//! Who is in scope of the pilot, decided per imported card record.
//!
//! DESIGN.md: labour migrants of the listed citizenships, arriving for work,
//! are enrolled; children are not (the host party files their arrival). The
//! card registry is an external system: an operator imports its records and
//! each out-of-scope record is refused with a reason the operator can act on.

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::types::{CardNumber, Citizenship};

/// Purpose of stay as written on the card's migration record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    Work,
    Study,
    Private,
    Tourism,
    Business,
    Other,
}

impl Purpose {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "work" => Some(Self::Work),
            "study" => Some(Self::Study),
            "private" => Some(Self::Private),
            "tourism" => Some(Self::Tourism),
            "business" => Some(Self::Business),
            "other" => Some(Self::Other),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Work => "work",
            Self::Study => "study",
            Self::Private => "private",
            Self::Tourism => "tourism",
            Self::Business => "business",
            Self::Other => "other",
        }
    }
}

/// One foreign citizen card as the registry describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardRecord {
    pub number: CardNumber,
    /// PHC string of the activation secret's Argon2id hash. The plain
    /// secret is never stored.
    pub secret_hash: String,
    pub name_latin: String,
    pub name_cyrillic: String,
    pub citizenship: Citizenship,
    pub birth_date: Date,
    pub purpose: Purpose,
    pub valid_until: Date,
}

/// Why a card record is not enrolled in the pilot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("citizenship {0} is not in the pilot's list")]
    CitizenshipNotInScope(String),
    #[error("purpose of stay is {0}, not work")]
    PurposeNotWork(&'static str),
    #[error("under 18: minors are notified by the host party")]
    Minor,
    #[error("card expired on {0}")]
    CardExpired(Date),
}

impl Refusal {
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::CitizenshipNotInScope(_) => "citizenship_not_in_scope",
            Refusal::PurposeNotWork(_) => "purpose_not_work",
            Refusal::Minor => "minor",
            Refusal::CardExpired(_) => "card_expired",
        }
    }
}

/// The configured scope of the pilot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    pub citizenships: Vec<Citizenship>,
    pub adult_age_years: i16,
}

impl Default for Scope {
    /// The nine citizenships of the Moscow pilot (GU MVD statement): Uzbekistan,
    /// Tajikistan, Kyrgyzstan, Armenia, Kazakhstan, Georgia, Azerbaijan,
    /// Moldova, Ukraine.
    fn default() -> Self {
        let codes = [
            "UZB", "TJK", "KGZ", "ARM", "KAZ", "GEO", "AZE", "MDA", "UKR",
        ];
        Scope {
            citizenships: codes
                .iter()
                .map(|c| Citizenship::parse(c).expect("the built-in codes are alpha-3"))
                .collect(),
            adult_age_years: 18,
        }
    }
}

impl Scope {
    /// Decide whether a card is in scope on the Moscow date `today`.
    pub fn check(&self, card: &CardRecord, today: Date) -> Result<(), Refusal> {
        if !self.citizenships.contains(&card.citizenship) {
            return Err(Refusal::CitizenshipNotInScope(
                card.citizenship.as_str().to_string(),
            ));
        }
        if card.purpose != Purpose::Work {
            return Err(Refusal::PurposeNotWork(card.purpose.as_str()));
        }
        if age_on(card.birth_date, today) < self.adult_age_years {
            return Err(Refusal::Minor);
        }
        if card.valid_until < today {
            return Err(Refusal::CardExpired(card.valid_until));
        }
        Ok(())
    }
}

/// Full years of age on `today`. A person born on 29 February turns a year
/// older on 1 March in non-leap years (Russian practice follows the civil
/// day after 28 February).
pub fn age_on(birth: Date, today: Date) -> i16 {
    let mut years = today.year() - birth.year();
    if (today.month(), today.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    years
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn card(citizenship: &str, purpose: Purpose, birth: Date) -> CardRecord {
        CardRecord {
            number: CardNumber::parse("AB1234567").unwrap(),
            secret_hash: String::new(),
            name_latin: "Test".into(),
            name_cyrillic: "Тест".into(),
            citizenship: Citizenship::parse(citizenship).unwrap(),
            birth_date: birth,
            purpose,
            valid_until: date(2030, 1, 1),
        }
    }

    #[test]
    fn adult_uzbek_worker_is_in_scope() {
        let c = card("UZB", Purpose::Work, date(1990, 5, 1));
        assert_eq!(Scope::default().check(&c, date(2025, 11, 1)), Ok(()));
    }

    #[test]
    fn refusals_have_reasons() {
        let s = Scope::default();
        let today = date(2025, 11, 1);
        let c = card("CHN", Purpose::Work, date(1990, 5, 1));
        assert_eq!(
            s.check(&c, today).unwrap_err().code(),
            "citizenship_not_in_scope"
        );
        let c = card("TJK", Purpose::Study, date(1990, 5, 1));
        assert_eq!(s.check(&c, today).unwrap_err().code(), "purpose_not_work");
        let c = card("KGZ", Purpose::Work, date(2007, 11, 2));
        let minor = s.check(&c, today).unwrap_err();
        assert_eq!(minor, Refusal::Minor);
        assert!(minor.to_string().contains("host party"));
        let c = card("KGZ", Purpose::Work, date(2007, 11, 1));
        assert_eq!(s.check(&c, today), Ok(()), "18 on the birthday itself");
        let mut c = card("ARM", Purpose::Work, date(1980, 1, 1));
        c.valid_until = date(2025, 10, 31);
        assert_eq!(s.check(&c, today).unwrap_err().code(), "card_expired");
    }

    #[test]
    fn leap_day_birthdays() {
        assert_eq!(age_on(date(2004, 2, 29), date(2022, 2, 28)), 17);
        assert_eq!(age_on(date(2004, 2, 29), date(2022, 3, 1)), 18);
    }
}
