//! Importing foreign citizen card records from the external card registry.
//!
//! Input: CSV, UTF-8, with a header row and these columns (order free):
//!
//! | column | meaning |
//! |---|---|
//! | `card_number` | card number; spaces and dashes are ignored |
//! | `activation_secret` | the activation secret in clear (hashed with Argon2id on import), or empty |
//! | `activation_secret_hash` | an Argon2id PHC string, or empty (exactly one of the two secret columns is set) |
//! | `name_latin` | holder's name in Latin script |
//! | `name_cyrillic` | holder's name in Cyrillic script |
//! | `citizenship` | ISO 3166-1 alpha-3 |
//! | `birth_date` | YYYY-MM-DD |
//! | `purpose` | purpose of stay: work, study, private, tourism, business, other |
//! | `valid_until` | last day of the card's validity, YYYY-MM-DD |
//!
//! A file with any malformed row (a missing column, a bad date, a card
//! number twice) is refused whole, nothing applied. Well-formed rows that
//! are out of the pilot's scope are refused one by one with a reason; the
//! rest is applied in one transaction.

use amina_domain::eligibility::{CardRecord, Purpose, Refusal, Scope};
use amina_domain::types::{CardNumber, Citizenship};
use argon2::password_hash::PasswordHasher;
use argon2::Argon2;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CsvRow {
    card_number: String,
    #[serde(default)]
    activation_secret: String,
    #[serde(default)]
    activation_secret_hash: String,
    name_latin: String,
    name_cyrillic: String,
    citizenship: String,
    birth_date: String,
    purpose: String,
    valid_until: String,
}

/// A row refused because it is out of scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefusedRow {
    /// 1-based line number in the file (the header is line 1).
    pub line: u64,
    pub card_number: String,
    pub reason: String,
    pub message: String,
}

/// A malformed row: the whole file is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MalformedRow {
    pub line: u64,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the file has {} malformed row(s); nothing was imported", .0.len())]
    Malformed(Vec<MalformedRow>),
    #[error("cannot read the file: {0}")]
    Io(String),
}

/// The checked content of an import file.
#[derive(Debug, Default)]
pub struct ParsedImport {
    pub rows_read: u64,
    pub accepted: Vec<CardRecord>,
    pub refused: Vec<RefusedRow>,
}

/// Parse and check a card file. `today` is the Moscow date of the import.
pub fn parse_cards(
    csv_text: &[u8],
    scope: &Scope,
    today: Date,
) -> Result<ParsedImport, ImportError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(csv_text);
    let mut out = ParsedImport::default();
    let mut malformed = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, row) in reader.deserialize::<CsvRow>().enumerate() {
        let line = i as u64 + 2;
        out.rows_read += 1;
        let row = match row {
            Ok(r) => r,
            Err(e) => {
                malformed.push(MalformedRow {
                    line,
                    message: e.to_string(),
                });
                continue;
            }
        };
        match check_row(&row) {
            Err(message) => malformed.push(MalformedRow { line, message }),
            Ok(record) => {
                if !seen.insert(record.number.clone()) {
                    malformed.push(MalformedRow {
                        line,
                        message: format!("card {} appears more than once", record.number),
                    });
                    continue;
                }
                match scope.check(&record, today) {
                    Ok(()) => out.accepted.push(record),
                    Err(refusal) => out.refused.push(refused(line, &record, &refusal)),
                }
            }
        }
    }
    if !malformed.is_empty() {
        return Err(ImportError::Malformed(malformed));
    }
    Ok(out)
}

fn refused(line: u64, record: &CardRecord, refusal: &Refusal) -> RefusedRow {
    RefusedRow {
        line,
        card_number: record.number.to_string(),
        reason: refusal.code().into(),
        message: refusal.to_string(),
    }
}

fn check_row(row: &CsvRow) -> Result<CardRecord, String> {
    let number = CardNumber::parse(&row.card_number).map_err(|e| e.to_string())?;
    let date = |what: &str, s: &str| -> Result<Date, String> {
        s.parse::<Date>()
            .map_err(|_| format!("{what} must be YYYY-MM-DD, got {s:?}"))
    };
    let secret_hash = match (
        row.activation_secret.is_empty(),
        row.activation_secret_hash.is_empty(),
    ) {
        (false, true) => SecretSource::Clear(row.activation_secret.clone()),
        (true, false) => {
            argon2::PasswordHash::new(&row.activation_secret_hash)
                .map_err(|_| "activation_secret_hash is not a PHC string".to_string())?;
            SecretSource::Hash(row.activation_secret_hash.clone())
        }
        _ => {
            return Err(
                "exactly one of activation_secret and activation_secret_hash must be set".into(),
            )
        }
    };
    if row.name_latin.is_empty() || row.name_cyrillic.is_empty() {
        return Err("name_latin and name_cyrillic are required".into());
    }
    Ok(CardRecord {
        number,
        secret_hash: match secret_hash {
            // Hashed later in bulk (see hash_secrets); marked for now.
            SecretSource::Clear(s) => format!("{CLEAR_PREFIX}{s}"),
            SecretSource::Hash(h) => h,
        },
        name_latin: row.name_latin.clone(),
        name_cyrillic: row.name_cyrillic.clone(),
        citizenship: Citizenship::parse(&row.citizenship).map_err(|e| e.to_string())?,
        birth_date: date("birth_date", &row.birth_date)?,
        purpose: Purpose::parse(&row.purpose).ok_or_else(|| {
            format!(
                "purpose must be one of work, study, private, tourism, business, other; got {:?}",
                row.purpose
            )
        })?,
        valid_until: date("valid_until", &row.valid_until)?,
    })
}

enum SecretSource {
    Clear(String),
    Hash(String),
}

/// Marks a secret that still has to be hashed. Never stored: `hash_secrets`
/// replaces every such value before the records reach the store.
const CLEAR_PREFIX: &str = "\u{0}clear:";

/// Replace clear secrets with Argon2id hashes (CPU-heavy: ~tens of ms each).
pub fn hash_secrets(records: &mut [CardRecord]) {
    for r in records.iter_mut() {
        if let Some(clear) = r.secret_hash.strip_prefix(CLEAR_PREFIX) {
            r.secret_hash = hash_secret(clear);
        }
    }
}

/// Argon2id with the crate's default parameters (OWASP's recommended
/// m=19 MiB, t=2, p=1) and a random salt.
pub fn hash_secret(secret: &str) -> String {
    Argon2::default()
        .hash_password(secret.as_bytes())
        .expect("Argon2 with default parameters accepts any input")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    const HEADER: &str = "card_number,activation_secret,activation_secret_hash,name_latin,name_cyrillic,citizenship,birth_date,purpose,valid_until\n";

    #[test]
    fn refuses_out_of_scope_rows_with_reasons() {
        let csv = format!(
            "{HEADER}AB1000001,s1,,Ali Valiev,Али Валиев,UZB,1990-01-01,work,2030-01-01\n\
             AB1000002,s2,,Li Wei,Ли Вэй,CHN,1990-01-01,work,2030-01-01\n\
             AB1000003,s3,,Anna Petrosyan,Анна Петросян,ARM,1990-01-01,study,2030-01-01\n\
             AB1000004,s4,,Timur Ergashev,Тимур Эргашев,TJK,2010-01-01,work,2030-01-01\n"
        );
        let parsed = parse_cards(csv.as_bytes(), &Scope::default(), date(2025, 11, 1)).unwrap();
        assert_eq!(parsed.rows_read, 4);
        assert_eq!(parsed.accepted.len(), 1);
        let reasons: Vec<_> = parsed
            .refused
            .iter()
            .map(|r| (r.line, r.reason.as_str()))
            .collect();
        assert_eq!(
            reasons,
            vec![
                (3, "citizenship_not_in_scope"),
                (4, "purpose_not_work"),
                (5, "minor")
            ]
        );
        assert!(parsed.refused[2].message.contains("host party"));
    }

    #[test]
    fn a_malformed_row_refuses_the_file() {
        let csv = format!(
            "{HEADER}AB1000001,s1,,Ali Valiev,Али Валиев,UZB,1990-01-01,work,2030-01-01\n\
             AB1000002,s2,,Bad Date,Плохая Дата,UZB,1990-13-01,work,2030-01-01\n\
             AB1000001,s3,,Twice,Дважды,UZB,1990-01-01,work,2030-01-01\n\
             AB1000004,,,No Secret,Без Секрета,UZB,1990-01-01,work,2030-01-01\n"
        );
        match parse_cards(csv.as_bytes(), &Scope::default(), date(2025, 11, 1)) {
            Err(ImportError::Malformed(rows)) => {
                let lines: Vec<_> = rows.iter().map(|r| r.line).collect();
                assert_eq!(lines, vec![3, 4, 5]);
            }
            other => panic!("expected malformed, got {other:?}"),
        }
    }

    #[test]
    fn clear_secrets_are_hashed_and_verify() {
        let csv = format!(
            "{HEADER}AB1000001,secret-1,,Ali Valiev,Али Валиев,UZB,1990-01-01,work,2030-01-01\n"
        );
        let mut parsed = parse_cards(csv.as_bytes(), &Scope::default(), date(2025, 11, 1)).unwrap();
        hash_secrets(&mut parsed.accepted);
        let h = &parsed.accepted[0].secret_hash;
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(crate::api::verify_secret_for_tests(h, "secret-1"));
        assert!(!crate::api::verify_secret_for_tests(h, "secret-2"));
    }
}
