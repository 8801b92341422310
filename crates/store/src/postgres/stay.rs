//! [`StayStore`] on PostgreSQL. A notice is decided while holding the
//! person's row lock (the same lock a batch of fixes or a deregistration
//! takes), so concurrent notices and a deregistration run one after the
//! other; using an enrolment code locks the code's row first, then follows
//! the lock order of enrolment (card, person).

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
use deadpool_postgres::GenericClient;
use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::{
    add_event, db_error, device_from_row, enrol_in, execute, get, load_person, opt_ts, query,
    query_one, query_opt, ts, PgDate, PostgresStore, DEVICE_COLUMNS,
};
use crate::stay::{
    bad_stored, code_hash, new_code, notice_context, operator_actor, parse_state, SEARCH_ORDER,
};
use crate::time::to_system;
use crate::*;

pub(super) const ADDRESS_COLUMNS: &str =
    "a.id, a.region, a.municipality, a.street, a.house, a.flat, a.residential, a.lat, a.lon";

pub(super) fn address_from_row(row: &Row, offset: usize) -> Result<Address, StoreError> {
    let id: String = get(row, offset)?;
    Ok(Address {
        id: AddressId::parse(&id).map_err(|_| bad_stored("address id"))?,
        region: get(row, offset + 1)?,
        municipality: get(row, offset + 2)?,
        street: get(row, offset + 3)?,
        house: get(row, offset + 4)?,
        flat: get(row, offset + 5)?,
        residential: get(row, offset + 6)?,
        position: Coordinates::parse(get(row, offset + 7)?, get(row, offset + 8)?)
            .map_err(|_| bad_stored("address position"))?,
    })
}

const NOTICE_SELECT: &str = "SELECT n.id, n.person_id, n.registration_id, n.date_from, \
     n.host_name, n.submitted_at, n.superseded_at, r.ended_at IS NOT NULL, \
     a.id, a.region, a.municipality, a.street, a.house, a.flat, a.residential, a.lat, a.lon \
     FROM stay_notices n JOIN addresses a ON a.id = n.address_id \
     JOIN registrations r ON r.id = n.registration_id";

fn notice_from_row(row: &Row) -> Result<NoticeRecord, StoreError> {
    let superseded_at = opt_ts(row, 6)?;
    Ok(NoticeRecord {
        id: get(row, 0)?,
        person_id: get(row, 1)?,
        registration_id: get(row, 2)?,
        date_from: get::<PgDate>(row, 3)?.0,
        host_name: get(row, 4)?,
        submitted_at: ts(row, 5)?,
        state: parse_state(superseded_at.is_some(), get(row, 7)?),
        superseded_at,
        address: address_from_row(row, 8)?,
    })
}

async fn notices_where<C: GenericClient>(
    c: &C,
    condition: &str,
    arg: i64,
) -> Result<Vec<NoticeRecord>, StoreError> {
    let sql = format!("{NOTICE_SELECT} WHERE {condition} ORDER BY n.id DESC");
    query(c, &sql, &[&arg])
        .await?
        .iter()
        .map(notice_from_row)
        .collect()
}

async fn notice_by_id<C: GenericClient>(c: &C, id: i64) -> Result<NoticeRecord, StoreError> {
    notices_where(c, "n.id = $1", id)
        .await?
        .pop()
        .ok_or_else(|| StoreError::Internal(format!("notice {id} vanished")))
}

pub(super) async fn load_address<C: GenericClient>(
    c: &C,
    id: &str,
) -> Result<Option<Address>, StoreError> {
    let sql = format!("SELECT {ADDRESS_COLUMNS} FROM addresses a WHERE a.id = $1");
    query_opt(c, &sql, &[&id])
        .await?
        .map(|r| address_from_row(&r, 0))
        .transpose()
}

async fn card_valid_until<C: GenericClient>(c: &C, number: &str) -> Result<Date, StoreError> {
    let row = query_opt(
        c,
        "SELECT valid_until FROM cards WHERE number = $1",
        &[&number],
    )
    .await?
    .ok_or(StoreError::UnknownCard)?;
    Ok(get::<PgDate>(&row, 0)?.0)
}

fn check_card_valid(valid_until: Date, now: Timestamp) -> Result<(), StoreError> {
    if valid_until < amina_domain::time::moscow_date(now) {
        return Err(StayError::CardExpired { valid_until }.into());
    }
    Ok(())
}

#[async_trait]
impl StayStore for PostgresStore {
    async fn import_addresses(
        &self,
        addresses: Vec<Address>,
        now: Timestamp,
    ) -> Result<ImportCounts, StoreError> {
        let now_sys = to_system(now);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let mut counts = ImportCounts::default();
        // Row by row, like the SQLite backend: imports are occasional
        // operator actions, and a row at a time keeps the counts exact when
        // one id appears twice.
        for a in &addresses {
            let row = query_one(
                &tx,
                "INSERT INTO addresses (id, region, municipality, street, house, flat, \
                 residential, lat, lon, position, search_text, imported_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8::float8, $9::float8, \
                 ST_SetSRID(ST_MakePoint($9::float8, $8::float8), 4326)::geography, $10, $11, $11) \
                 ON CONFLICT (id) DO UPDATE SET region = excluded.region, \
                 municipality = excluded.municipality, street = excluded.street, \
                 house = excluded.house, flat = excluded.flat, \
                 residential = excluded.residential, lat = excluded.lat, lon = excluded.lon, \
                 position = excluded.position, search_text = excluded.search_text, \
                 updated_at = excluded.updated_at \
                 RETURNING (xmax = 0)",
                &[
                    &a.id.as_str(),
                    &a.region,
                    &a.municipality,
                    &a.street,
                    &a.house,
                    &a.flat,
                    &a.residential,
                    &a.position.lat(),
                    &a.position.lon(),
                    &search_text(a),
                    &now_sys,
                ],
            )
            .await?;
            // xmax = 0: the row version was inserted, not updated.
            if get::<bool>(&row, 0)? {
                counts.inserted += 1;
            } else {
                counts.updated += 1;
            }
        }
        tx.commit().await.map_err(db_error)?;
        Ok(counts)
    }

    async fn address(&self, id: &AddressId) -> Result<Option<Address>, StoreError> {
        let client = self.client().await?;
        load_address(&client, id.as_str()).await
    }

    async fn search_addresses(
        &self,
        terms: &[String],
        limit: u32,
    ) -> Result<Vec<Address>, StoreError> {
        if terms.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let limit = i64::from(limit.min(1000));
        let mut sql = format!("SELECT {ADDRESS_COLUMNS} FROM addresses a WHERE true");
        let mut args: Vec<&(dyn ToSql + Sync)> = Vec::new();
        for t in terms {
            args.push(t);
            sql.push_str(&format!(" AND strpos(a.search_text, ${}) > 0", args.len()));
        }
        args.push(&limit);
        sql.push_str(&format!(" ORDER BY {SEARCH_ORDER} LIMIT ${}", args.len()));
        let client = self.client().await?;
        query(&client, &sql, &args)
            .await?
            .iter()
            .map(|r| address_from_row(r, 0))
            .collect()
    }

    async fn submit_notice(
        &self,
        rules: NoticeRules,
        geofence: Arc<Geofence>,
        notice: NewNotice,
        now: Timestamp,
    ) -> Result<NoticeOutcome, StoreError> {
        let now_sys = to_system(now);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let person = load_person(&tx, notice.person_id, true)
            .await?
            .ok_or(StoreError::UnknownPerson)?;
        let address = load_address(&tx, notice.address_id.as_str())
            .await?
            .ok_or(StayError::UnknownAddress)?;
        let current = match query_opt(
            &tx,
            "SELECT id, address_id, date_from, host_name FROM stay_notices \
             WHERE registration_id = $1 AND superseded_at IS NULL",
            &[&person.registration_id],
        )
        .await?
        {
            Some(row) => Some((
                get::<i64>(&row, 0)?,
                CurrentNotice {
                    address_id: AddressId::parse(get(&row, 1)?)
                        .map_err(|_| bad_stored("notice address"))?,
                    date_from: get::<PgDate>(&row, 2)?.0,
                    host_name: HostName::parse(get::<Option<&str>>(&row, 3)?)
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
            let record = notice_by_id(&tx, id).await?;
            tx.commit().await.map_err(db_error)?;
            return Ok(NoticeOutcome {
                notice: record,
                created: false,
                superseded: None,
            });
        }
        let superseded = current.map(|c| c.0);
        if let Some(old) = superseded {
            execute(
                &tx,
                "UPDATE stay_notices SET superseded_at = $2 WHERE id = $1",
                &[&old, &now_sys],
            )
            .await?;
        }
        let id: i64 = get(
            &query_one(
                &tx,
                "INSERT INTO stay_notices (person_id, registration_id, address_id, date_from, \
                 host_name, submitted_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                &[
                    &notice.person_id,
                    &person.registration_id,
                    &notice.address_id.as_str(),
                    &PgDate(notice.date_from),
                    &notice.host_name.as_ref().map(|h| h.as_str()),
                    &now_sys,
                ],
            )
            .await?,
            0,
        )?;
        if let Some(old) = superseded {
            execute(
                &tx,
                "UPDATE stay_notices SET superseded_by = $2 WHERE id = $1",
                &[&old, &id],
            )
            .await?;
        }
        add_event(
            &tx,
            notice.person_id,
            now,
            "stay_notice",
            "self",
            serde_json::json!({"notice_id": id, "address_id": notice.address_id.as_str(),
                               "date_from": notice.date_from.to_string(),
                               "supersedes": superseded}),
        )
        .await?;
        super::integration::feed_insert(
            &tx,
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
        )
        .await?;
        let record = notice_by_id(&tx, id).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(NoticeOutcome {
            notice: record,
            created: true,
            superseded,
        })
    }

    async fn notices(&self, person_id: i64) -> Result<Vec<NoticeRecord>, StoreError> {
        let client = self.client().await?;
        notices_where(&client, "n.person_id = $1", person_id).await
    }

    async fn issue_enrolment_code(
        &self,
        card: &CardNumber,
        actor: &str,
        ttl: SignedDuration,
        now: Timestamp,
    ) -> Result<IssuedEnrolmentCode, StoreError> {
        let actor = operator_actor(actor);
        let now_sys = to_system(now);
        let expires_at = now + ttl;
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        // Locks the card: two operators issuing at once replace each
        // other's codes in turn, and one code stays open.
        let row = query_opt(
            &tx,
            "SELECT valid_until FROM cards WHERE number = $1 FOR UPDATE",
            &[&card.as_str()],
        )
        .await?
        .ok_or(StoreError::UnknownCard)?;
        check_card_valid(get::<PgDate>(&row, 0)?.0, now)?;
        let superseded = execute(
            &tx,
            "UPDATE enrolment_codes SET superseded_at = $2 \
             WHERE card_number = $1 AND used_at IS NULL AND superseded_at IS NULL",
            &[&card.as_str(), &now_sys],
        )
        .await?;
        let code = loop {
            let code = new_code();
            let inserted = execute(
                &tx,
                "INSERT INTO enrolment_codes (code_hash, card_number, issued_at, expires_at, \
                 issued_by) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                &[
                    &code_hash(&code).as_slice(),
                    &card.as_str(),
                    &now_sys,
                    &to_system(expires_at),
                    &actor,
                ],
            )
            .await?;
            if inserted == 1 {
                break code;
            }
        };
        if let Some(row) = query_opt(
            &tx,
            "SELECT id FROM persons WHERE card_number = $1",
            &[&card.as_str()],
        )
        .await?
        {
            add_event(
                &tx,
                get(&row, 0)?,
                now,
                "enrolment_code_issued",
                &actor,
                serde_json::json!({"expires_at": expires_at.to_string()}),
            )
            .await?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(IssuedEnrolmentCode {
            code,
            card_number: card.clone(),
            expires_at,
            superseded,
        })
    }

    async fn enrol_with_code(
        &self,
        monitor: &Monitor,
        code: &EnrolmentCode,
        mut token: NewBindingToken,
        now: Timestamp,
    ) -> Result<Enrolment, StoreError> {
        let hash = code_hash(code);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        // Locks the code: a second phone with the same code waits here,
        // then finds it used.
        let row = query_opt(
            &tx,
            "SELECT card_number, expires_at, used_at, superseded_at, issued_by \
             FROM enrolment_codes WHERE code_hash = $1 FOR UPDATE",
            &[&hash.as_slice()],
        )
        .await?
        .ok_or(StayError::Code(CodeRefusal::Unknown))?;
        let card: String = get(&row, 0)?;
        let issued_by: String = get(&row, 4)?;
        check_code(
            ts(&row, 1)?,
            opt_ts(&row, 2)?.is_some(),
            opt_ts(&row, 3)?.is_some(),
            now,
        )
        .map_err(StayError::from)?;
        check_card_valid(card_valid_until(&tx, &card).await?, now)?;
        token.issued_by = issued_by.clone();
        let enrolment = enrol_in(&tx, monitor, &card, &token, now).await?;
        execute(
            &tx,
            "UPDATE enrolment_codes SET used_at = $2, used_by_person = $3 WHERE code_hash = $1",
            &[&hash.as_slice(), &to_system(now), &enrolment.person_id],
        )
        .await?;
        add_event(
            &tx,
            enrolment.person_id,
            now,
            "enrolled_with_code",
            &issued_by,
            serde_json::json!({"registration_id": enrolment.registration_id,
                               "new_registration": enrolment.new_registration}),
        )
        .await?;
        tx.commit().await.map_err(db_error)?;
        Ok(enrolment)
    }

    async fn person_data(&self, person_id: i64) -> Result<Option<PersonData>, StoreError> {
        let mut client = self.client().await?;
        // One snapshot for every part (REPEATABLE READ, read only).
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(db_error)?;
        let Some(row) = query_opt(
            &tx,
            "SELECT c.number, c.name_latin, c.name_cyrillic, c.citizenship, c.birth_date, \
             c.valid_until FROM persons p JOIN cards c ON c.number = p.card_number \
             WHERE p.id = $1",
            &[&person_id],
        )
        .await?
        else {
            return Ok(None);
        };
        let card = CardIdentity {
            number: CardNumber::parse(get(&row, 0)?).map_err(|_| bad_stored("card number"))?,
            name_latin: get(&row, 1)?,
            name_cyrillic: get(&row, 2)?,
            citizenship: Citizenship::parse(get(&row, 3)?)
                .map_err(|_| bad_stored("citizenship"))?,
            birth_date: get::<PgDate>(&row, 4)?.0,
            valid_until: get::<PgDate>(&row, 5)?.0,
        };
        let registrations = query(
            &tx,
            "SELECT id, started_at, ended_at, end_reason FROM registrations \
             WHERE person_id = $1 ORDER BY started_at, id",
            &[&person_id],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(RegistrationRecord {
                id: get(r, 0)?,
                started_at: ts(r, 1)?,
                ended_at: opt_ts(r, 2)?,
                end_reason: get(r, 3)?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
        let devices = query(
            &tx,
            &format!(
                "SELECT {DEVICE_COLUMNS} FROM devices WHERE person_id = $1 ORDER BY bound_at, id"
            ),
            &[&person_id],
        )
        .await?
        .iter()
        .map(device_from_row)
        .collect::<Result<Vec<_>, _>>()?;
        let notices = notices_where(&tx, "n.person_id = $1", person_id).await?;
        let fixes = query_one(
            &tx,
            "SELECT count(*), min(recorded_at), max(recorded_at) FROM fixes WHERE person_id = $1",
            &[&person_id],
        )
        .await?;
        let count: i64 = get(&fixes, 0)?;
        let summary = FixSummary {
            count: count as u64,
            first_recorded_at: opt_ts(&fixes, 1)?,
            last_recorded_at: opt_ts(&fixes, 2)?,
        };
        tx.commit().await.map_err(db_error)?;
        Ok(Some(PersonData {
            person_id,
            card,
            registrations,
            devices,
            notices,
            fixes: summary,
        }))
    }
}
