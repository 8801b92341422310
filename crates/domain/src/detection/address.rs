//! Fictitious addresses: places of stay where many registered people do not
//! live ("rubber flats").
//!
//! Per address: how many people are registered there, for how many the home
//! could be inferred at all, and how many of those sleep elsewhere. An
//! address is raised when enough of its people are known to live elsewhere,
//! or when more people are registered there than a flat can hold; host-party
//! disputes (a landlord saying "this person does not live here") add to the
//! evidence. The ranking puts the strongest evidence first; the evidence
//! table lists each person's finding so an officer can check them one by one.

use std::collections::BTreeMap;

use serde::Serialize;

use super::home::{ElsewhereParams, HomeEstimate};
use crate::staypoints::great_circle_m;

/// What is known about one registered person's home.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
pub enum HomeVerdict {
    /// Too few observed nights to say.
    Unknown,
    /// The inferred home is at the registered address.
    AtAddress,
    /// The inferred home is elsewhere.
    Elsewhere { distance_m: f64, score: f64 },
}

impl HomeVerdict {
    /// The stored code: `unknown`, `at_address`, `elsewhere`.
    pub fn code(&self) -> &'static str {
        match self {
            HomeVerdict::Unknown => "unknown",
            HomeVerdict::AtAddress => "at_address",
            HomeVerdict::Elsewhere { .. } => "elsewhere",
        }
    }
}

/// What the inferred home says about one registered address, with the same
/// thresholds as "lives elsewhere" ([`super::home::lives_elsewhere`]): a home
/// seen on too few nights, or with too low a confidence, says nothing
/// (`Unknown`), so an address is never counted against on weak evidence; a
/// clear home within the distance threshold is `AtAddress`.
pub fn verdict(
    home: Option<&HomeEstimate>,
    registered: (f64, f64),
    p: &ElsewhereParams,
) -> HomeVerdict {
    let Some(home) = home else {
        return HomeVerdict::Unknown;
    };
    if home.confidence < p.min_confidence || home.nights_observed < p.min_nights_observed {
        return HomeVerdict::Unknown;
    }
    let distance_m = great_circle_m(home.lat, home.lon, registered.0, registered.1);
    if distance_m <= p.min_distance_m {
        return HomeVerdict::AtAddress;
    }
    let coverage = (f64::from(home.nights_observed) / 7.0).min(1.0);
    HomeVerdict::Elsewhere {
        distance_m,
        score: home.confidence * coverage,
    }
}

/// One person registered at an address.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resident {
    pub address_id: String,
    pub person_id: i64,
    /// Flattened in the evidence: `verdict`, and for `elsewhere` its
    /// `distance_m` and `score`.
    #[serde(flatten)]
    pub verdict: HomeVerdict,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AddressParams {
    /// Raise when at least this many residents live elsewhere …
    pub min_elsewhere: u32,
    /// … and they are at least this share of the residents whose home is known.
    pub min_share_elsewhere: f64,
    /// Raise whenever more people than this are registered at one address.
    pub max_plausible_residents: u32,
}

impl Default for AddressParams {
    fn default() -> Self {
        AddressParams {
            min_elsewhere: 3,
            min_share_elsewhere: 0.5,
            max_plausible_residents: 10,
        }
    }
}

/// The finding for one address.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AddressFinding {
    pub address_id: String,
    pub registered: u32,
    pub home_known: u32,
    pub elsewhere: u32,
    /// elsewhere / home_known (0 when no home is known).
    pub share_elsewhere: f64,
    pub disputes: u32,
    /// Ranking score in 0..=1.
    pub score: f64,
    /// Whether the address crosses a threshold and should be reviewed.
    pub raise: bool,
    pub explanation: String,
    /// The per-person evidence.
    pub residents: Vec<Resident>,
}

/// Rank all addresses, strongest evidence first (ties by address id).
/// `disputes` counts host-party disputes per address id.
pub fn rank_addresses(
    residents: &[Resident],
    disputes: &BTreeMap<String, u32>,
    p: &AddressParams,
) -> Vec<AddressFinding> {
    let mut by_address: BTreeMap<&str, Vec<&Resident>> = BTreeMap::new();
    for r in residents {
        by_address.entry(&r.address_id).or_default().push(r);
    }
    for id in disputes.keys() {
        by_address.entry(id).or_default();
    }
    let mut out: Vec<AddressFinding> = by_address
        .into_iter()
        .map(|(id, rs)| {
            let registered = rs.len() as u32;
            let home_known = rs
                .iter()
                .filter(|r| r.verdict != HomeVerdict::Unknown)
                .count() as u32;
            let elsewhere = rs
                .iter()
                .filter(|r| matches!(r.verdict, HomeVerdict::Elsewhere { .. }))
                .count() as u32;
            let share = if home_known == 0 {
                0.0
            } else {
                f64::from(elsewhere) / f64::from(home_known)
            };
            let disputes = disputes.get(id).copied().unwrap_or(0);
            let crowded = registered > p.max_plausible_residents;
            let raise = (elsewhere >= p.min_elsewhere && share >= p.min_share_elsewhere)
                || crowded
                || (disputes > 0 && elsewhere > 0);
            let volume = (f64::from(elsewhere) / f64::from(p.min_elsewhere.max(1) * 2)).min(1.0);
            let crowding = if crowded { 0.3 } else { 0.0 };
            let dispute_weight = (0.15 * f64::from(disputes)).min(0.3);
            let score = (share * volume * 0.7 + crowding + dispute_weight).min(1.0);
            let mut explanation = format!(
                "{registered} people registered here; home known for {home_known}, of whom \
                 {elsewhere} sleep elsewhere."
            );
            if crowded {
                explanation.push_str(&format!(
                    " More than {} people registered at one address.",
                    p.max_plausible_residents
                ));
            }
            if disputes > 0 {
                explanation.push_str(&format!(" {disputes} host-party dispute(s)."));
            }
            AddressFinding {
                address_id: id.to_string(),
                registered,
                home_known,
                elsewhere,
                share_elsewhere: share,
                disputes,
                score,
                raise,
                explanation,
                residents: rs.into_iter().cloned().collect(),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.score
            .partial_cmp(&a.score)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.address_id.cmp(&b.address_id))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(addr: &str, person: i64, verdict: HomeVerdict) -> Resident {
        Resident {
            address_id: addr.into(),
            person_id: person,
            verdict,
        }
    }

    fn away() -> HomeVerdict {
        HomeVerdict::Elsewhere {
            distance_m: 9000.0,
            score: 0.9,
        }
    }

    #[test]
    fn verdict_agrees_with_lives_elsewhere() {
        let p = ElsewhereParams::default();
        let home = |lat: f64, confidence: f64, nights: u32| HomeEstimate {
            lat,
            lon: 37.60,
            nights_at_home: nights,
            nights_observed: nights,
            nights_considered: 14,
            confidence,
        };
        let reg = (55.65, 37.60);
        assert_eq!(verdict(None, reg, &p), HomeVerdict::Unknown);
        assert_eq!(
            verdict(Some(&home(55.65, 1.0, 7)), reg, &p),
            HomeVerdict::AtAddress
        );
        // Far, but on too few nights or too unsure: unknown.
        assert_eq!(
            verdict(Some(&home(55.75, 1.0, 2)), reg, &p),
            HomeVerdict::Unknown
        );
        assert_eq!(
            verdict(Some(&home(55.75, 0.4, 7)), reg, &p),
            HomeVerdict::Unknown
        );
        let far = home(55.75, 1.0, 7);
        let v = verdict(Some(&far), reg, &p);
        assert_eq!(v.code(), "elsewhere");
        let e = crate::detection::home::lives_elsewhere(&far, reg, &p).unwrap();
        assert_eq!(
            v,
            HomeVerdict::Elsewhere {
                distance_m: e.distance_m,
                score: e.score
            }
        );
    }

    #[test]
    fn rubber_flat_ranks_first() {
        let mut rs = Vec::new();
        // Address A: 6 registered, 5 known, 4 elsewhere.
        for i in 0..4 {
            rs.push(r("A", i, away()));
        }
        rs.push(r("A", 4, HomeVerdict::AtAddress));
        rs.push(r("A", 5, HomeVerdict::Unknown));
        // Address B: a family living there.
        for i in 10..13 {
            rs.push(r("B", i, HomeVerdict::AtAddress));
        }
        // Address C: 12 registered, nothing known: crowded.
        for i in 20..32 {
            rs.push(r("C", i, HomeVerdict::Unknown));
        }
        // Address D: one person elsewhere plus a dispute.
        rs.push(r("D", 40, away()));
        let disputes = BTreeMap::from([("D".to_string(), 1)]);
        let ranked = rank_addresses(&rs, &disputes, &AddressParams::default());
        let order: Vec<(&str, bool)> = ranked
            .iter()
            .map(|f| (f.address_id.as_str(), f.raise))
            .collect();
        assert_eq!(
            order,
            vec![("A", true), ("C", true), ("D", true), ("B", false)]
        );
        let a = &ranked[0];
        assert_eq!((a.registered, a.home_known, a.elsewhere), (6, 5, 4));
        assert!((a.share_elsewhere - 0.8).abs() < 1e-9);
        assert_eq!(a.residents.len(), 6);
        assert!(a.explanation.contains("4 sleep elsewhere"));
        assert_eq!(ranked[3].score, 0.0);
    }
}
