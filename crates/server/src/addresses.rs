//! Importing the address register: an export modelled on the federal
//! address register (ФИАС/ГАР), one row per house or flat.
//!
//! Input: CSV, UTF-8, with a header row and these columns (order free; see
//! docs/import.md for how they map to GAR):
//!
//! | column | meaning |
//! |---|---|
//! | `id` | the entry's object id (GAR OBJECTGUID), 1–64 of `A-Z a-z 0-9 - _ . :` |
//! | `region` | ISO 3166-2 code of the region (`RU-MOW`; GAR region 77 → `RU-MOW`, 50 → `RU-MOS`) |
//! | `municipality` | city or municipal district |
//! | `street` | street with its type, as the register spells it |
//! | `house` | house number with building and structure |
//! | `flat` | flat number, or empty for a house |
//! | `residential` | `1`/`true` for residential premises, `0`/`false` otherwise |
//! | `latitude`, `longitude` | WGS 84 degrees of the building |
//!
//! A malformed row (missing or unknown column, a bad number, an id twice)
//! refuses the whole file, nothing applied, every bad line listed. A
//! well-formed row whose region is not a pilot region, or whose coordinates
//! lie outside the region it names, is refused on its own with a reason
//! ([`amina_domain::stay::check_register_entry`]); the rest is applied in
//! one transaction.

use std::collections::HashSet;

use amina_domain::geofence::Geofence;
use amina_domain::stay::{check_register_entry, clean_text, parse_region, Address, AddressId};
use amina_domain::types::Coordinates;
use serde::{Deserialize, Serialize};

use crate::cards::MalformedRow;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CsvRow {
    id: String,
    region: String,
    municipality: String,
    street: String,
    house: String,
    #[serde(default)]
    flat: String,
    residential: String,
    latitude: String,
    longitude: String,
}

/// A well-formed row refused by the register rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefusedAddress {
    /// 1-based line number in the file (the header is line 1).
    pub line: u64,
    pub id: String,
    pub reason: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AddressImportError {
    #[error("the file has {} malformed row(s); nothing was imported", .0.len())]
    Malformed(Vec<MalformedRow>),
}

/// The checked content of an address file.
#[derive(Debug, Default)]
pub struct ParsedAddresses {
    pub rows_read: u64,
    pub accepted: Vec<Address>,
    pub refused: Vec<RefusedAddress>,
}

/// Parse and check an address file against the pilot's geofence.
pub fn parse_addresses(
    csv_text: &[u8],
    geofence: &Geofence,
) -> Result<ParsedAddresses, AddressImportError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(csv_text);
    let mut out = ParsedAddresses::default();
    let mut malformed = Vec::new();
    let mut seen = HashSet::new();
    for (i, row) in reader.deserialize::<CsvRow>().enumerate() {
        let line = i as u64 + 2;
        out.rows_read += 1;
        let address = match row.map_err(|e| e.to_string()).and_then(|r| check_row(&r)) {
            Ok(a) => a,
            Err(message) => {
                malformed.push(MalformedRow { line, message });
                continue;
            }
        };
        if !seen.insert(address.id.clone()) {
            malformed.push(MalformedRow {
                line,
                message: format!("address {} appears more than once", address.id),
            });
            continue;
        }
        match check_register_entry(&address, geofence) {
            Ok(_) => out.accepted.push(address),
            Err(refusal) => out.refused.push(RefusedAddress {
                line,
                id: address.id.to_string(),
                reason: refusal.code().into(),
                message: refusal.to_string(),
            }),
        }
    }
    if !malformed.is_empty() {
        return Err(AddressImportError::Malformed(malformed));
    }
    Ok(out)
}

fn check_row(row: &CsvRow) -> Result<Address, String> {
    let id = AddressId::parse(&row.id).map_err(|e| e.to_string())?;
    let region = parse_region(&row.region).map_err(|e| e.to_string())?;
    let text = |s: &str, what| clean_text(s, what).map_err(|e| e.to_string());
    let flat = if row.flat.trim().is_empty() {
        None
    } else {
        Some(text(&row.flat, "flat")?)
    };
    let residential = match row.residential.to_ascii_lowercase().as_str() {
        "1" | "true" => true,
        "0" | "false" => false,
        other => return Err(format!("residential must be 1 or 0, got {other:?}")),
    };
    let number = |what: &str, s: &str| -> Result<f64, String> {
        s.parse::<f64>()
            .map_err(|_| format!("{what} must be a number, got {s:?}"))
    };
    let position = Coordinates::parse(
        number("latitude", &row.latitude)?,
        number("longitude", &row.longitude)?,
    )
    .map_err(|e| e.to_string())?;
    Ok(Address {
        id,
        region,
        municipality: text(&row.municipality, "municipality")?,
        street: text(&row.street, "street")?,
        house: text(&row.house, "house")?,
        flat,
        residential,
        position,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str =
        "id,region,municipality,street,house,flat,residential,latitude,longitude\n";

    fn fence() -> &'static Geofence {
        static F: std::sync::OnceLock<Geofence> = std::sync::OnceLock::new();
        F.get_or_init(Geofence::embedded)
    }

    #[test]
    fn rows_outside_the_pilot_or_their_region_are_refused_with_reasons() {
        let csv = format!(
            "{HEADER}a1,RU-MOW,Москва,улица Тверская,7,12,1,55.7579,37.6112\n\
             a2,RU-MOS,городской округ Химки,улица Московская,12к1,,1,55.8887,37.4304\n\
             a3,RU-TVE,Тверь,улица Советская,10,3,1,56.8587,35.9176\n\
             a4,RU-MOW,Москва,улица Московская,12к1,,1,55.8887,37.4304\n\
             a5,ru-mow,Москва,улица Тверская,7,,0,55.7579,37.6112\n"
        );
        let parsed = parse_addresses(csv.as_bytes(), fence()).unwrap();
        assert_eq!(parsed.rows_read, 5);
        let ids: Vec<_> = parsed.accepted.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, vec!["a1", "a2", "a5"]);
        assert_eq!(parsed.accepted[1].flat, None);
        assert!(!parsed.accepted[2].residential);
        assert_eq!(parsed.accepted[2].region, "RU-MOW");
        let refused: Vec<_> = parsed
            .refused
            .iter()
            .map(|r| (r.line, r.reason.as_str()))
            .collect();
        assert_eq!(
            refused,
            vec![
                (4, "region_not_in_pilot"),
                (5, "coordinates_outside_region")
            ]
        );
    }

    #[test]
    fn a_malformed_row_refuses_the_file_with_line_numbers() {
        let csv = format!(
            "{HEADER}a1,RU-MOW,Москва,улица Тверская,7,12,1,55.7579,37.6112\n\
             a2,RU-MOW,Москва,улица Тверская,7,13,yes,55.7579,37.6112\n\
             a3,RU-MOW,Москва,улица Тверская,7,14,1,north,37.6112\n\
             a1,RU-MOW,Москва,улица Тверская,7,15,1,55.7579,37.6112\n\
             a5,RU-MOW,Москва,,7,16,1,55.7579,37.6112\n\
             a6,77,Москва,улица Тверская,7,17,1,55.7579,37.6112\n\
             a7,RU-MOW,Москва,улица Тверская,7,18,1,95.0,37.6112\n\
             a8,RU-MOW,Москва,улица Тверская,7\n"
        );
        match parse_addresses(csv.as_bytes(), fence()) {
            Err(AddressImportError::Malformed(rows)) => {
                let lines: Vec<_> = rows.iter().map(|r| r.line).collect();
                assert_eq!(lines, vec![3, 4, 5, 6, 7, 8, 9]);
                assert!(rows[0].message.contains("residential"), "{rows:?}");
                assert!(rows[2].message.contains("more than once"), "{rows:?}");
            }
            other => panic!("expected malformed, got {other:?}"),
        }
        let unknown =
            "id,region,municipality,street,house,flat,residential,latitude,longitude,floor\n\
                       a1,RU-MOW,Москва,улица Тверская,7,12,1,55.7579,37.6112,3\n";
        assert!(matches!(
            parse_addresses(unknown.as_bytes(), fence()),
            Err(AddressImportError::Malformed(rows)) if rows[0].line == 2
        ));
    }
}
