//! [`HostStore`] on SQLite. Every write runs on the single writer thread
//! with its audit record in the same transaction.

use std::sync::Arc;

use amina_domain::geofence::Geofence;
use amina_domain::host::{
    decide_child_notice, dispute_key_prefix, dispute_signal, mask_card, ChildNoticeContext,
    ChildNoticeDecision, ChildNoticeRefusal, CurrentChildNotice,
};
use amina_domain::stay::{AddressId, NoticeRules};
use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::audit::append;
use super::signals::insert_signal;
use super::stay::{address_from_row, date_of, load_address, ADDRESS_COLUMNS};
use super::{add_event, load_person, SqliteStore};
use crate::host::parent_status;
use crate::stay::bad_stored;
use crate::time::{from_ms, to_ms};
use crate::*;

const HOST_SELECT: &str = "SELECT h.account_id, c.name, h.full_name, h.document, h.created_at, \
     h.created_by, c.disabled_at IS NOT NULL \
     FROM host_parties h JOIN console_accounts c ON c.id = h.account_id";

fn host_from_row(r: &Row<'_>) -> Result<HostParty, StoreError> {
    Ok(HostParty {
        account_id: r.get(0)?,
        name: r.get(1)?,
        full_name: r.get(2)?,
        document: r.get(3)?,
        created_at: from_ms(r.get(4)?)?,
        created_by: r.get(5)?,
        disabled: r.get(6)?,
        properties: Vec::new(),
    })
}

fn properties(
    conn: &Connection,
    account_id: i64,
) -> Result<Vec<amina_domain::stay::Address>, StoreError> {
    let sql = format!(
        "SELECT {ADDRESS_COLUMNS} FROM host_properties p JOIN addresses a ON a.id = p.address_id \
         WHERE p.account_id = ?1 ORDER BY a.id"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params![account_id])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(address_from_row(row, 0)?);
    }
    Ok(out)
}

fn load_host(conn: &Connection, account_id: i64) -> Result<Option<HostParty>, StoreError> {
    let host = conn
        .prepare_cached(&format!("{HOST_SELECT} WHERE h.account_id = ?1"))?
        .query_row(params![account_id], |r| Ok(host_from_row(r)))
        .optional()?
        .transpose()?;
    match host {
        Some(mut h) => {
            h.properties = properties(conn, account_id)?;
            Ok(Some(h))
        }
        None => Ok(None),
    }
}

/// Insert the properties, each of which must be in the register.
fn add_properties(
    conn: &Connection,
    account_id: i64,
    ids: &[AddressId],
    actor: &str,
    at: Timestamp,
) -> Result<(), StoreError> {
    for id in ids {
        if load_address(conn, id.as_str())?.is_none() {
            return Err(HostError::UnknownProperty(id.to_string()).into());
        }
        conn.prepare_cached(
            "INSERT INTO host_properties (account_id, address_id, added_at, added_by) \
             VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![account_id, id.as_str(), to_ms(at), actor])?;
    }
    Ok(())
}

const CHILD_SELECT: &str = "SELECT n.id, c.id, c.name, c.birth_date, c.citizenship, c.document, \
     c.parent_person_id, p.card_number, n.arrival_date, n.host_account_id, n.submitted_at, \
     n.superseded_at IS NULL, \
     a.id, a.region, a.municipality, a.street, a.house, a.flat, a.residential, a.lat, a.lon \
     FROM child_notices n JOIN children c ON c.id = n.child_id \
     JOIN persons p ON p.id = c.parent_person_id JOIN addresses a ON a.id = n.address_id";

fn child_from_row(r: &Row<'_>) -> Result<ChildNoticeRecord, StoreError> {
    Ok(ChildNoticeRecord {
        id: r.get(0)?,
        child_id: r.get(1)?,
        name: r.get(2)?,
        birth_date: date_of(&r.get::<_, String>(3)?)?,
        citizenship: r.get(4)?,
        document: r.get(5)?,
        parent_person_id: r.get(6)?,
        parent_card_masked: mask_card(&r.get::<_, String>(7)?),
        arrival_date: date_of(&r.get::<_, String>(8)?)?,
        host_account_id: r.get(9)?,
        submitted_at: from_ms(r.get(10)?)?,
        in_force: r.get(11)?,
        address: address_from_row(r, 12)?,
    })
}

fn children_where(
    conn: &Connection,
    condition: &str,
    arg: i64,
) -> Result<Vec<ChildNoticeRecord>, StoreError> {
    let sql = format!("{CHILD_SELECT} WHERE {condition} ORDER BY n.id DESC LIMIT 500");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params![arg])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(child_from_row(row)?);
    }
    Ok(out)
}

fn child_notice_by_id(conn: &Connection, id: i64) -> Result<ChildNoticeRecord, StoreError> {
    children_where(conn, "n.id = ?1", id)?
        .pop()
        .ok_or_else(|| StoreError::Internal(format!("child notice {id} vanished")))
}

#[async_trait]
impl HostStore for SqliteStore {
    async fn create_host_party(
        &self,
        a: NewAccount,
        host: NewHostParty,
        audit: AuditEntry,
    ) -> Result<HostParty, StoreError> {
        self.write(move |conn| {
            if conn
                .prepare_cached("SELECT 1 FROM console_accounts WHERE name = ?1")?
                .exists(params![a.name])?
            {
                return Err(StoreError::Console(ConsoleError::AccountExists));
            }
            if conn
                .prepare_cached("SELECT 1 FROM host_parties WHERE document = ?1")?
                .exists(params![host.document.as_str()])?
            {
                return Err(HostError::DocumentExists.into());
            }
            let at = audit.at;
            conn.prepare_cached(
                "INSERT INTO console_accounts (name, role, password_hash, totp_secret, \
                 created_at, created_by) VALUES (?1, 'host_party', ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                a.name,
                a.password_hash,
                a.totp_secret,
                to_ms(at),
                a.created_by
            ])?;
            let id = conn.last_insert_rowid();
            conn.prepare_cached(
                "INSERT INTO host_parties (account_id, full_name, document, created_at, \
                 created_by, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?4)",
            )?
            .execute(params![
                id,
                host.full_name,
                host.document.as_str(),
                to_ms(at),
                a.created_by
            ])?;
            add_properties(conn, id, &host.properties, &a.created_by, at)?;
            let mut audit = audit;
            audit.subject = format!("account:{id}");
            append(conn, &audit)?;
            load_host(conn, id)?.ok_or_else(|| StoreError::Internal("host vanished".into()))
        })
        .await
    }

    async fn host_party(&self, account_id: i64) -> Result<Option<HostParty>, StoreError> {
        self.read(move |conn| load_host(conn, account_id)).await
    }

    async fn host_parties(&self, limit: u32) -> Result<Vec<HostParty>, StoreError> {
        self.read(move |conn| {
            let sql = format!("{HOST_SELECT} ORDER BY h.account_id DESC LIMIT ?1");
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(params![i64::from(limit)])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(host_from_row(row)?);
            }
            Ok(out)
        })
        .await
    }

    async fn set_host_properties(
        &self,
        account_id: i64,
        ids: Vec<AddressId>,
        audit: AuditEntry,
    ) -> Result<HostParty, StoreError> {
        self.write(move |conn| {
            let before = load_host(conn, account_id)?.ok_or(HostError::UnknownHostParty)?;
            conn.prepare_cached("DELETE FROM host_properties WHERE account_id = ?1")?
                .execute(params![account_id])?;
            add_properties(conn, account_id, &ids, &audit.actor, audit.at)?;
            conn.prepare_cached("UPDATE host_parties SET updated_at = ?2 WHERE account_id = ?1")?
                .execute(params![account_id, to_ms(audit.at)])?;
            let mut audit = audit;
            audit.detail = serde_json::json!({
                "before": before.properties.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
                "after": ids.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
            });
            append(conn, &audit)?;
            load_host(conn, account_id)?.ok_or_else(|| StoreError::Internal("host vanished".into()))
        })
        .await
    }

    async fn host_tenants(&self, account_id: i64) -> Result<Vec<Tenant>, StoreError> {
        self.read(move |conn| {
            let sql = format!(
                "SELECT n.id, k.name_latin, k.name_cyrillic, k.number, n.date_from, \
                 EXISTS (SELECT 1 FROM signals s WHERE s.kind = 'address_disputed' \
                   AND s.person_id = n.person_id AND s.status IN ('open', 'in_review') \
                   AND substr(s.dedup_key, 1, length(a.id) + 1) = a.id || '@'), \
                 {ADDRESS_COLUMNS} \
                 FROM host_properties hp JOIN stay_notices n ON n.address_id = hp.address_id \
                 JOIN registrations r ON r.id = n.registration_id \
                 JOIN persons p ON p.id = n.person_id JOIN cards k ON k.number = p.card_number \
                 JOIN addresses a ON a.id = n.address_id \
                 WHERE hp.account_id = ?1 AND n.superseded_at IS NULL AND r.ended_at IS NULL \
                 ORDER BY a.id, k.name_latin, n.id"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query(params![account_id])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(Tenant {
                    notice_id: r.get(0)?,
                    name_latin: r.get(1)?,
                    name_cyrillic: r.get(2)?,
                    card_masked: mask_card(&r.get::<_, String>(3)?),
                    since: date_of(&r.get::<_, String>(4)?)?,
                    disputed: r.get(5)?,
                    address: address_from_row(r, 6)?,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn file_child_notice(
        &self,
        rules: NoticeRules,
        geofence: Arc<Geofence>,
        notice: NewChildNotice,
        now: Timestamp,
        audit: AuditEntry,
    ) -> Result<ChildNoticeOutcome, StoreError> {
        self.write(move |conn| {
            let parent_id: Option<i64> = conn
                .prepare_cached("SELECT id FROM persons WHERE card_number = ?1")?
                .query_row(params![notice.parent_card.as_str()], |r| r.get(0))
                .optional()?;
            let parent = match parent_id {
                Some(id) => load_person(conn, id)?,
                None => None,
            };
            // An unknown card gets the same answer as an unregistered
            // parent: a host party learns nothing more about a card.
            let parent = parent.ok_or(ChildNoticeRefusal::ParentNotRegistered)?;
            let address =
                load_address(conn, notice.address_id.as_str())?.ok_or(StayError::UnknownAddress)?;
            let host_property = conn
                .prepare_cached(
                    "SELECT 1 FROM host_properties WHERE account_id = ?1 AND address_id = ?2",
                )?
                .exists(params![notice.host_account_id, notice.address_id.as_str()])?;
            let child: Option<(i64, i64)> = conn
                .prepare_cached(
                    "SELECT id, parent_person_id FROM children \
                     WHERE citizenship = ?1 AND document = ?2",
                )?
                .query_row(
                    params![notice.citizenship.as_str(), notice.document.as_str()],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let current: Option<(i64, String, String)> = match child {
                Some((child_id, _)) => conn
                    .prepare_cached(
                        "SELECT id, address_id, arrival_date FROM child_notices \
                         WHERE child_id = ?1 AND superseded_at IS NULL",
                    )?
                    .query_row(params![child_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .optional()?,
                None => None,
            };
            let current = match current {
                Some((id, address_id, date)) => Some((
                    id,
                    CurrentChildNotice {
                        address_id: AddressId::parse(&address_id)
                            .map_err(|_| bad_stored("child notice address"))?,
                        arrival_date: date_of(&date)?,
                    },
                )),
                None => None,
            };
            let ctx = ChildNoticeContext {
                parent_status: parent_status(&parent, now),
                parent_registration_start: amina_domain::time::moscow_date(
                    parent.state.registration_started_at,
                ),
                today: amina_domain::time::moscow_date(now),
                host_property,
                linked_to_other_parent: child.is_some_and(|(_, p)| p != parent.person_id),
                current: current.as_ref().map(|c| c.1.clone()),
            };
            let decision = decide_child_notice(
                &rules,
                &geofence,
                &ctx,
                &address,
                notice.birth_date,
                notice.arrival_date,
            )?;
            if decision == ChildNoticeDecision::SameAsCurrent {
                let (id, _) = current.ok_or_else(|| StoreError::Internal("no current".into()))?;
                return Ok(ChildNoticeOutcome {
                    notice: child_notice_by_id(conn, id)?,
                    created: false,
                });
            }
            let child_id = match child {
                Some((id, _)) => {
                    conn.prepare_cached(
                        "UPDATE children SET name = ?2, birth_date = ?3, updated_at = ?4 \
                         WHERE id = ?1",
                    )?
                    .execute(params![
                        id,
                        notice.name,
                        notice.birth_date.to_string(),
                        to_ms(now)
                    ])?;
                    id
                }
                None => {
                    conn.prepare_cached(
                        "INSERT INTO children (parent_person_id, name, birth_date, citizenship, \
                         document, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                    )?
                    .execute(params![
                        parent.person_id,
                        notice.name,
                        notice.birth_date.to_string(),
                        notice.citizenship.as_str(),
                        notice.document.as_str(),
                        to_ms(now)
                    ])?;
                    conn.last_insert_rowid()
                }
            };
            let superseded = current.map(|c| c.0);
            if let Some(old) = superseded {
                conn.prepare_cached("UPDATE child_notices SET superseded_at = ?2 WHERE id = ?1")?
                    .execute(params![old, to_ms(now)])?;
            }
            conn.prepare_cached(
                "INSERT INTO child_notices (child_id, address_id, arrival_date, host_account_id, \
                 submitted_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                child_id,
                notice.address_id.as_str(),
                notice.arrival_date.to_string(),
                notice.host_account_id,
                to_ms(now)
            ])?;
            let id = conn.last_insert_rowid();
            if let Some(old) = superseded {
                conn.prepare_cached("UPDATE child_notices SET superseded_by = ?2 WHERE id = ?1")?
                    .execute(params![old, id])?;
            }
            let actor = format!("host_party:{}", notice.host_account_id);
            let detail = serde_json::json!({
                "child_notice_id": id, "child_id": child_id,
                "address_id": notice.address_id.as_str(),
                "arrival_date": notice.arrival_date.to_string(),
                "supersedes": superseded,
            });
            add_event(
                conn,
                parent.person_id,
                now,
                "child_arrival_notice",
                &actor,
                detail.clone(),
            )?;
            let mut audit = audit;
            audit.subject = format!("person:{}", parent.person_id);
            audit.detail = detail;
            append(conn, &audit)?;
            Ok(ChildNoticeOutcome {
                notice: child_notice_by_id(conn, id)?,
                created: true,
            })
        })
        .await
    }

    async fn child_notices_by_host(
        &self,
        account_id: i64,
    ) -> Result<Vec<ChildNoticeRecord>, StoreError> {
        self.read(move |conn| children_where(conn, "n.host_account_id = ?1", account_id))
            .await
    }

    async fn child_notices_of_parent(
        &self,
        person_id: i64,
    ) -> Result<Vec<ChildNoticeRecord>, StoreError> {
        self.read(move |conn| children_where(conn, "c.parent_person_id = ?1", person_id))
            .await
    }

    async fn dispute_registration(
        &self,
        account_id: i64,
        notice_id: i64,
        statement: String,
        now: Timestamp,
        audit: AuditEntry,
    ) -> Result<RaisedSignal, StoreError> {
        self.write(move |conn| {
            let row: Option<(i64, String)> = conn
                .prepare_cached(
                    "SELECT n.person_id, n.address_id FROM stay_notices n \
                     JOIN registrations r ON r.id = n.registration_id \
                     JOIN host_properties hp ON hp.address_id = n.address_id \
                     WHERE n.id = ?1 AND hp.account_id = ?2 \
                       AND n.superseded_at IS NULL AND r.ended_at IS NULL",
                )?
                .query_row(params![notice_id, account_id], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            let (person_id, address) = row.ok_or(HostError::NotYourTenant)?;
            let address = AddressId::parse(&address).map_err(|_| bad_stored("address id"))?;
            let prefix = dispute_key_prefix(&address);
            let open = conn
                .prepare_cached(
                    "SELECT 1 FROM signals WHERE kind = 'address_disputed' AND person_id = ?1 \
                     AND status IN ('open', 'in_review') \
                     AND substr(dedup_key, 1, length(?2)) = ?2",
                )?
                .exists(params![person_id, prefix])?;
            if open {
                return Err(HostError::DisputeOpen.into());
            }
            let rule = dispute_signal(&address, account_id, &statement, now);
            let signal = crate::signals::rule_signal(person_id, rule);
            let raised = insert_signal(conn, &signal)?;
            let mut audit = audit;
            audit.subject = format!("person:{person_id}");
            audit.detail = serde_json::json!({
                "signal_id": raised.id, "address_id": address.as_str(),
                "notice_id": notice_id, "statement": statement,
            });
            append(conn, &audit)?;
            Ok(raised)
        })
        .await
    }
}
