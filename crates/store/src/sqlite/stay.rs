//! [`StayStore`] on SQLite. Every write runs on the single writer thread,
//! so a notice or a code is decided on state nobody else changes meanwhile.

use std::sync::Arc;

use amina_domain::enrolment_code::{check_code, CodeRefusal, EnrolmentCode};
use amina_domain::geofence::Geofence;
use amina_domain::monitor::Monitor;
use amina_domain::stay::{
    decide_notice, search_text, Address, AddressId, CurrentNotice, HostName, NoticeDecision,
    NoticeRules,
};
use amina_domain::types::{CardNumber, Citizenship, Coordinates};
use async_trait::async_trait;
use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};

use super::{
    add_event, device_from_row, enrol_in, load_person, opt_ms, SqliteStore, DEVICE_COLUMNS,
};
use crate::stay::{
    bad_stored, code_hash, new_code, notice_context, operator_actor, parse_state, SEARCH_ORDER,
};
use crate::time::{from_ms, to_ms};
use crate::*;

pub(super) const ADDRESS_COLUMNS: &str =
    "a.id, a.region, a.municipality, a.street, a.house, a.flat, a.residential, a.lat, a.lon";

/// An address from the nine [`ADDRESS_COLUMNS`] starting at `offset`.
pub(super) fn address_from_row(row: &Row<'_>, offset: usize) -> Result<Address, StoreError> {
    let id: String = row.get(offset)?;
    Ok(Address {
        id: AddressId::parse(&id).map_err(|_| bad_stored("address id"))?,
        region: row.get(offset + 1)?,
        municipality: row.get(offset + 2)?,
        street: row.get(offset + 3)?,
        house: row.get(offset + 4)?,
        flat: row.get(offset + 5)?,
        residential: row.get(offset + 6)?,
        position: Coordinates::parse(row.get(offset + 7)?, row.get(offset + 8)?)
            .map_err(|_| bad_stored("address position"))?,
    })
}

pub(super) fn date_of(text: &str) -> Result<Date, StoreError> {
    text.parse().map_err(|_| bad_stored(format!("date {text}")))
}

const NOTICE_SELECT: &str = "SELECT n.id, n.person_id, n.registration_id, n.date_from, \
     n.host_name, n.submitted_at, n.superseded_at, r.ended_at IS NOT NULL, \
     a.id, a.region, a.municipality, a.street, a.house, a.flat, a.residential, a.lat, a.lon \
     FROM stay_notices n JOIN addresses a ON a.id = n.address_id \
     JOIN registrations r ON r.id = n.registration_id";

fn notice_from_row(row: &Row<'_>) -> Result<NoticeRecord, StoreError> {
    let superseded_at = opt_ms(row.get(6)?)?;
    Ok(NoticeRecord {
        id: row.get(0)?,
        person_id: row.get(1)?,
        registration_id: row.get(2)?,
        date_from: date_of(&row.get::<_, String>(3)?)?,
        host_name: row.get(4)?,
        submitted_at: from_ms(row.get(5)?)?,
        state: parse_state(superseded_at.is_some(), row.get(7)?),
        superseded_at,
        address: address_from_row(row, 8)?,
    })
}

fn notices_where(
    conn: &Connection,
    condition: &str,
    arg: i64,
) -> Result<Vec<NoticeRecord>, StoreError> {
    let sql = format!("{NOTICE_SELECT} WHERE {condition} ORDER BY n.id DESC");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params![arg])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(notice_from_row(row)?);
    }
    Ok(out)
}

fn notice_by_id(conn: &Connection, id: i64) -> Result<NoticeRecord, StoreError> {
    notices_where(conn, "n.id = ?1", id)?
        .pop()
        .ok_or_else(|| StoreError::Internal(format!("notice {id} vanished")))
}

pub(super) fn load_address(conn: &Connection, id: &str) -> Result<Option<Address>, StoreError> {
    let sql = format!("SELECT {ADDRESS_COLUMNS} FROM addresses a WHERE a.id = ?1");
    conn.prepare_cached(&sql)?
        .query_row(params![id], |r| Ok(address_from_row(r, 0)))
        .optional()?
        .transpose()
}

/// The card's validity, or UnknownCard.
fn card_valid_until(conn: &Connection, number: &str) -> Result<Date, StoreError> {
    let valid: Option<String> = conn
        .prepare_cached("SELECT valid_until FROM cards WHERE number = ?1")?
        .query_row(params![number], |r| r.get(0))
        .optional()?;
    date_of(&valid.ok_or(StoreError::UnknownCard)?)
}

fn check_card_valid(valid_until: Date, now: Timestamp) -> Result<(), StoreError> {
    if valid_until < amina_domain::time::moscow_date(now) {
        return Err(StayError::CardExpired { valid_until }.into());
    }
    Ok(())
}

#[async_trait]
impl StayStore for SqliteStore {
    async fn import_addresses(
        &self,
        addresses: Vec<Address>,
        now: Timestamp,
    ) -> Result<ImportCounts, StoreError> {
        self.write(move |conn| {
            let mut counts = ImportCounts::default();
            let mut exists = conn.prepare_cached("SELECT 1 FROM addresses WHERE id = ?1")?;
            let mut upsert = conn.prepare_cached(
                "INSERT INTO addresses (id, region, municipality, street, house, flat, \
                 residential, lat, lon, search_text, imported_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11) \
                 ON CONFLICT (id) DO UPDATE SET region = excluded.region, \
                 municipality = excluded.municipality, street = excluded.street, \
                 house = excluded.house, flat = excluded.flat, \
                 residential = excluded.residential, lat = excluded.lat, lon = excluded.lon, \
                 search_text = excluded.search_text, updated_at = excluded.updated_at",
            )?;
            for a in &addresses {
                let existed = exists.exists(params![a.id.as_str()])?;
                upsert.execute(params![
                    a.id.as_str(),
                    a.region,
                    a.municipality,
                    a.street,
                    a.house,
                    a.flat,
                    a.residential,
                    a.position.lat(),
                    a.position.lon(),
                    search_text(a),
                    to_ms(now),
                ])?;
                if existed {
                    counts.updated += 1;
                } else {
                    counts.inserted += 1;
                }
            }
            Ok(counts)
        })
        .await
    }

    async fn address(&self, id: &AddressId) -> Result<Option<Address>, StoreError> {
        let id = id.as_str().to_string();
        self.read(move |conn| load_address(conn, &id)).await
    }

    async fn search_addresses(
        &self,
        terms: &[String],
        limit: u32,
    ) -> Result<Vec<Address>, StoreError> {
        if terms.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let terms = terms.to_vec();
        self.read(move |conn| {
            let mut sql = format!("SELECT {ADDRESS_COLUMNS} FROM addresses a WHERE 1 = 1");
            for i in 1..=terms.len() {
                sql.push_str(&format!(" AND instr(a.search_text, ?{i}) > 0"));
            }
            sql.push_str(&format!(
                " ORDER BY {SEARCH_ORDER} LIMIT {}",
                limit.min(1000)
            ));
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(params_from_iter(terms.iter()))?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(address_from_row(row, 0)?);
            }
            Ok(out)
        })
        .await
    }

    async fn submit_notice(
        &self,
        rules: NoticeRules,
        geofence: Arc<Geofence>,
        notice: NewNotice,
        now: Timestamp,
    ) -> Result<NoticeOutcome, StoreError> {
        self.write(move |conn| {
            let person = load_person(conn, notice.person_id)?.ok_or(StoreError::UnknownPerson)?;
            let address =
                load_address(conn, notice.address_id.as_str())?.ok_or(StayError::UnknownAddress)?;
            let current: Option<(i64, String, String, Option<String>)> = conn
                .prepare_cached(
                    "SELECT id, address_id, date_from, host_name FROM stay_notices \
                     WHERE registration_id = ?1 AND superseded_at IS NULL",
                )?
                .query_row(params![person.registration_id], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .optional()?;
            let current = match current {
                Some((id, address_id, date_from, host)) => Some((
                    id,
                    CurrentNotice {
                        address_id: AddressId::parse(&address_id)
                            .map_err(|_| bad_stored("notice address"))?,
                        date_from: date_of(&date_from)?,
                        host_name: HostName::parse(host.as_deref())
                            .map_err(|_| bad_stored("host name"))?,
                    },
                )),
                None => None,
            };
            let ctx = notice_context(&person, current.as_ref().map(|c| c.1.clone()), now);
            let decision = decide_notice(
                &rules,
                &geofence,
                &ctx,
                &address,
                notice.date_from,
                &notice.host_name,
            )
            .map_err(StayError::from)?;
            if decision == NoticeDecision::SameAsCurrent {
                let (id, _) = current.ok_or_else(|| StoreError::Internal("no current".into()))?;
                return Ok(NoticeOutcome {
                    notice: notice_by_id(conn, id)?,
                    created: false,
                    superseded: None,
                });
            }
            let superseded = current.map(|c| c.0);
            if let Some(old) = superseded {
                conn.prepare_cached("UPDATE stay_notices SET superseded_at = ?2 WHERE id = ?1")?
                    .execute(params![old, to_ms(now)])?;
            }
            conn.prepare_cached(
                "INSERT INTO stay_notices (person_id, registration_id, address_id, date_from, \
                 host_name, submitted_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                notice.person_id,
                person.registration_id,
                notice.address_id.as_str(),
                notice.date_from.to_string(),
                notice.host_name.as_ref().map(|h| h.as_str()),
                to_ms(now),
            ])?;
            let id = conn.last_insert_rowid();
            if let Some(old) = superseded {
                conn.prepare_cached("UPDATE stay_notices SET superseded_by = ?2 WHERE id = ?1")?
                    .execute(params![old, id])?;
            }
            add_event(
                conn,
                notice.person_id,
                now,
                "stay_notice",
                "self",
                serde_json::json!({"notice_id": id, "address_id": notice.address_id.as_str(),
                                   "date_from": notice.date_from.to_string(),
                                   "supersedes": superseded}),
            )?;
            super::integration::feed_insert(
                conn,
                FeedKind::PlaceOfStay,
                notice.person_id,
                now,
                crate::integration::place_of_stay_payload(
                    person.registration_id,
                    id,
                    notice.address_id.as_str(),
                    notice.date_from,
                    superseded,
                ),
                now,
            )?;
            Ok(NoticeOutcome {
                notice: notice_by_id(conn, id)?,
                created: true,
                superseded,
            })
        })
        .await
    }

    async fn notices(&self, person_id: i64) -> Result<Vec<NoticeRecord>, StoreError> {
        self.read(move |conn| notices_where(conn, "n.person_id = ?1", person_id))
            .await
    }

    async fn issue_enrolment_code(
        &self,
        card: &CardNumber,
        actor: &str,
        ttl: SignedDuration,
        now: Timestamp,
    ) -> Result<IssuedEnrolmentCode, StoreError> {
        let number = card.clone();
        let actor = operator_actor(actor);
        self.write(move |conn| {
            check_card_valid(card_valid_until(conn, number.as_str())?, now)?;
            let superseded = conn
                .prepare_cached(
                    "UPDATE enrolment_codes SET superseded_at = ?2 \
                     WHERE card_number = ?1 AND used_at IS NULL AND superseded_at IS NULL",
                )?
                .execute(params![number.as_str(), to_ms(now)])?;
            let expires_at = now + ttl;
            let mut insert = conn.prepare_cached(
                "INSERT INTO enrolment_codes (code_hash, card_number, issued_at, expires_at, \
                 issued_by) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
            )?;
            // 50 random bits: a collision with a stored code is
            // astronomically rare, but cheap to rule out.
            let code = loop {
                let code = new_code();
                let inserted = insert.execute(params![
                    code_hash(&code).as_slice(),
                    number.as_str(),
                    to_ms(now),
                    to_ms(expires_at),
                    actor,
                ])?;
                if inserted == 1 {
                    break code;
                }
            };
            let person: Option<i64> = conn
                .prepare_cached("SELECT id FROM persons WHERE card_number = ?1")?
                .query_row(params![number.as_str()], |r| r.get(0))
                .optional()?;
            if let Some(pid) = person {
                add_event(
                    conn,
                    pid,
                    now,
                    "enrolment_code_issued",
                    &actor,
                    serde_json::json!({"expires_at": expires_at.to_string()}),
                )?;
            }
            Ok(IssuedEnrolmentCode {
                code,
                card_number: number,
                expires_at,
                superseded: superseded as u64,
            })
        })
        .await
    }

    async fn enrol_with_code(
        &self,
        monitor: &Monitor,
        code: &EnrolmentCode,
        mut token: NewBindingToken,
        now: Timestamp,
    ) -> Result<Enrolment, StoreError> {
        let monitor = monitor.clone();
        let hash = code_hash(code);
        self.write(move |conn| {
            let row: Option<(String, i64, Option<i64>, Option<i64>, String)> = conn
                .prepare_cached(
                    "SELECT card_number, expires_at, used_at, superseded_at, issued_by \
                     FROM enrolment_codes WHERE code_hash = ?1",
                )?
                .query_row(params![hash.as_slice()], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })
                .optional()?;
            let (card, expires_at, used, superseded, issued_by) =
                row.ok_or(StayError::Code(CodeRefusal::Unknown))?;
            check_code(expires_at, used.is_some(), superseded.is_some(), to_ms(now))
                .map_err(StayError::from)?;
            check_card_valid(card_valid_until(conn, &card)?, now)?;
            token.issued_by = issued_by.clone();
            let enrolment = enrol_in(conn, &monitor, &card, &token, now)?;
            conn.prepare_cached(
                "UPDATE enrolment_codes SET used_at = ?2, used_by_person = ?3 WHERE code_hash = ?1",
            )?
            .execute(params![hash.as_slice(), to_ms(now), enrolment.person_id])?;
            add_event(
                conn,
                enrolment.person_id,
                now,
                "enrolled_with_code",
                &issued_by,
                serde_json::json!({"registration_id": enrolment.registration_id,
                                   "new_registration": enrolment.new_registration}),
            )?;
            Ok(enrolment)
        })
        .await
    }

    async fn person_data(&self, person_id: i64) -> Result<Option<PersonData>, StoreError> {
        // One read transaction: every part describes the same moment.
        self.read(move |conn| {
            conn.execute_batch("BEGIN")?;
            let result = person_data(conn, person_id);
            conn.execute_batch("COMMIT")?;
            result
        })
        .await
    }
}

fn person_data(conn: &Connection, person_id: i64) -> Result<Option<PersonData>, StoreError> {
    let card: Option<String> = conn
        .prepare_cached("SELECT card_number FROM persons WHERE id = ?1")?
        .query_row(params![person_id], |r| r.get(0))
        .optional()?;
    let Some(card) = card else { return Ok(None) };
    let identity = conn
        .prepare_cached(
            "SELECT number, name_latin, name_cyrillic, citizenship, birth_date, valid_until \
             FROM cards WHERE number = ?1",
        )?
        .query_row(params![card], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
            ))
        })?;
    let card = CardIdentity {
        number: CardNumber::parse(&identity.0).map_err(|_| bad_stored("card number"))?,
        name_latin: identity.1,
        name_cyrillic: identity.2,
        citizenship: Citizenship::parse(&identity.3).map_err(|_| bad_stored("citizenship"))?,
        birth_date: date_of(&identity.4)?,
        valid_until: date_of(&identity.5)?,
    };
    let mut registrations = Vec::new();
    {
        let mut stmt = conn.prepare_cached(
            "SELECT id, started_at, ended_at, end_reason FROM registrations \
             WHERE person_id = ?1 ORDER BY started_at, id",
        )?;
        let mut rows = stmt.query(params![person_id])?;
        while let Some(row) = rows.next()? {
            registrations.push(RegistrationRecord {
                id: row.get(0)?,
                started_at: from_ms(row.get(1)?)?,
                ended_at: opt_ms(row.get(2)?)?,
                end_reason: row.get(3)?,
            });
        }
    }
    let mut devices = Vec::new();
    {
        let sql = format!(
            "SELECT {DEVICE_COLUMNS} FROM devices WHERE person_id = ?1 ORDER BY bound_at, id"
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(params![person_id])?;
        while let Some(row) = rows.next()? {
            devices.push(device_from_row(row)?);
        }
    }
    let notices = notices_where(conn, "n.person_id = ?1", person_id)?;
    let fixes = conn
        .prepare_cached(
            "SELECT count(*), min(recorded_at), max(recorded_at) FROM fixes WHERE person_id = ?1",
        )?
        .query_row(params![person_id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Option<i64>>(1)?,
                r.get::<_, Option<i64>>(2)?,
            ))
        })?;
    Ok(Some(PersonData {
        person_id,
        card,
        registrations,
        devices,
        notices,
        fixes: FixSummary {
            count: fixes.0 as u64,
            first_recorded_at: opt_ms(fixes.1)?,
            last_recorded_at: opt_ms(fixes.2)?,
        },
    }))
}
