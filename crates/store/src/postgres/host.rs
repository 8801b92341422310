//! [`HostStore`] on PostgreSQL. A child's notice is decided holding the
//! parent's row lock (the lock a deregistration takes); a dispute holds the
//! disputed person's row lock while it checks for an open dispute, so two
//! disputes at once raise one signal.

use std::sync::Arc;

use amina_domain::geofence::Geofence;
use amina_domain::host::{
    decide_child_notice, dispute_key_prefix, dispute_signal, mask_card, ChildNoticeContext,
    ChildNoticeDecision, ChildNoticeRefusal, CurrentChildNotice,
};
use amina_domain::stay::{Address, AddressId, NoticeRules};
use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use jiff::Timestamp;
use tokio_postgres::Row;

use super::audit::append;
use super::signals::insert_signal;
use super::stay::{address_from_row, load_address, ADDRESS_COLUMNS};
use super::{
    add_event, db_error, execute, get, load_person, query, query_one, query_opt, ts, PgDate,
    PostgresStore,
};
use crate::host::parent_status;
use crate::stay::bad_stored;
use crate::time::to_system;
use crate::*;

const HOST_SELECT: &str = "SELECT h.account_id, c.name, h.full_name, h.document, h.created_at, \
     h.created_by, c.disabled_at IS NOT NULL \
     FROM host_parties h JOIN console_accounts c ON c.id = h.account_id";

fn host_from_row(r: &Row) -> Result<HostParty, StoreError> {
    Ok(HostParty {
        account_id: get(r, 0)?,
        name: get(r, 1)?,
        full_name: get(r, 2)?,
        document: get(r, 3)?,
        created_at: ts(r, 4)?,
        created_by: get(r, 5)?,
        disabled: get(r, 6)?,
        properties: Vec::new(),
    })
}

async fn properties<C: GenericClient>(c: &C, account_id: i64) -> Result<Vec<Address>, StoreError> {
    let sql = format!(
        "SELECT {ADDRESS_COLUMNS} FROM host_properties p JOIN addresses a ON a.id = p.address_id \
         WHERE p.account_id = $1 ORDER BY a.id"
    );
    query(c, &sql, &[&account_id])
        .await?
        .iter()
        .map(|r| address_from_row(r, 0))
        .collect()
}

async fn load_host<C: GenericClient>(
    c: &C,
    account_id: i64,
) -> Result<Option<HostParty>, StoreError> {
    let row = query_opt(
        c,
        &format!("{HOST_SELECT} WHERE h.account_id = $1"),
        &[&account_id],
    )
    .await?;
    match row {
        Some(r) => {
            let mut h = host_from_row(&r)?;
            h.properties = properties(c, account_id).await?;
            Ok(Some(h))
        }
        None => Ok(None),
    }
}

async fn add_properties<C: GenericClient>(
    c: &C,
    account_id: i64,
    ids: &[AddressId],
    actor: &str,
    at: Timestamp,
) -> Result<(), StoreError> {
    for id in ids {
        if load_address(c, id.as_str()).await?.is_none() {
            return Err(HostError::UnknownProperty(id.to_string()).into());
        }
        execute(
            c,
            "INSERT INTO host_properties (account_id, address_id, added_at, added_by) \
             VALUES ($1, $2, $3, $4)",
            &[&account_id, &id.as_str(), &to_system(at), &actor],
        )
        .await?;
    }
    Ok(())
}

const CHILD_SELECT: &str = "SELECT n.id, c.id, c.name, c.birth_date, c.citizenship, c.document, \
     c.parent_person_id, p.card_number, n.arrival_date, n.host_account_id, n.submitted_at, \
     n.superseded_at IS NULL, \
     a.id, a.region, a.municipality, a.street, a.house, a.flat, a.residential, a.lat, a.lon \
     FROM child_notices n JOIN children c ON c.id = n.child_id \
     JOIN persons p ON p.id = c.parent_person_id JOIN addresses a ON a.id = n.address_id";

fn child_from_row(r: &Row) -> Result<ChildNoticeRecord, StoreError> {
    Ok(ChildNoticeRecord {
        id: get(r, 0)?,
        child_id: get(r, 1)?,
        name: get(r, 2)?,
        birth_date: get::<PgDate>(r, 3)?.0,
        citizenship: get(r, 4)?,
        document: get(r, 5)?,
        parent_person_id: get(r, 6)?,
        parent_card_masked: mask_card(get::<&str>(r, 7)?),
        arrival_date: get::<PgDate>(r, 8)?.0,
        host_account_id: get(r, 9)?,
        submitted_at: ts(r, 10)?,
        in_force: get(r, 11)?,
        address: address_from_row(r, 12)?,
    })
}

async fn children_where<C: GenericClient>(
    c: &C,
    condition: &str,
    arg: i64,
) -> Result<Vec<ChildNoticeRecord>, StoreError> {
    let sql = format!("{CHILD_SELECT} WHERE {condition} ORDER BY n.id DESC LIMIT 500");
    query(c, &sql, &[&arg])
        .await?
        .iter()
        .map(child_from_row)
        .collect()
}

async fn child_notice_by_id<C: GenericClient>(
    c: &C,
    id: i64,
) -> Result<ChildNoticeRecord, StoreError> {
    children_where(c, "n.id = $1", id)
        .await?
        .pop()
        .ok_or_else(|| StoreError::Internal(format!("child notice {id} vanished")))
}

#[async_trait]
impl HostStore for PostgresStore {
    async fn create_host_party(
        &self,
        a: NewAccount,
        host: NewHostParty,
        audit: AuditEntry,
    ) -> Result<HostParty, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let at = to_system(audit.at);
        let row = query_opt(
            &tx,
            "INSERT INTO console_accounts (name, role, password_hash, totp_secret, created_at, \
             created_by) VALUES ($1, 'host_party', $2, $3, $4, $5) \
             ON CONFLICT (name) DO NOTHING RETURNING id",
            &[
                &a.name,
                &a.password_hash,
                &a.totp_secret,
                &at,
                &a.created_by,
            ],
        )
        .await?
        .ok_or(StoreError::Console(ConsoleError::AccountExists))?;
        let id: i64 = get(&row, 0)?;
        query_opt(
            &tx,
            "INSERT INTO host_parties (account_id, full_name, document, created_at, created_by, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $4) \
             ON CONFLICT (document) DO NOTHING RETURNING account_id",
            &[
                &id,
                &host.full_name,
                &host.document.as_str(),
                &at,
                &a.created_by,
            ],
        )
        .await?
        .ok_or(HostError::DocumentExists)?;
        add_properties(&tx, id, &host.properties, &a.created_by, audit.at).await?;
        let mut audit = audit;
        audit.subject = format!("account:{id}");
        append(&tx, &audit).await?;
        let host = load_host(&tx, id)
            .await?
            .ok_or_else(|| StoreError::Internal("host vanished".into()))?;
        tx.commit().await.map_err(db_error)?;
        Ok(host)
    }

    async fn host_party(&self, account_id: i64) -> Result<Option<HostParty>, StoreError> {
        let client = self.client().await?;
        load_host(&client, account_id).await
    }

    async fn host_parties(&self, limit: u32) -> Result<Vec<HostParty>, StoreError> {
        let client = self.client().await?;
        query(
            &client,
            &format!("{HOST_SELECT} ORDER BY h.account_id DESC LIMIT $1"),
            &[&i64::from(limit)],
        )
        .await?
        .iter()
        .map(host_from_row)
        .collect()
    }

    async fn set_host_properties(
        &self,
        account_id: i64,
        ids: Vec<AddressId>,
        audit: AuditEntry,
    ) -> Result<HostParty, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        query_opt(
            &tx,
            "SELECT 1 FROM host_parties WHERE account_id = $1 FOR UPDATE",
            &[&account_id],
        )
        .await?
        .ok_or(HostError::UnknownHostParty)?;
        let before = properties(&tx, account_id).await?;
        execute(
            &tx,
            "DELETE FROM host_properties WHERE account_id = $1",
            &[&account_id],
        )
        .await?;
        add_properties(&tx, account_id, &ids, &audit.actor, audit.at).await?;
        execute(
            &tx,
            "UPDATE host_parties SET updated_at = $2 WHERE account_id = $1",
            &[&account_id, &to_system(audit.at)],
        )
        .await?;
        let mut audit = audit;
        audit.detail = serde_json::json!({
            "before": before.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
            "after": ids.iter().map(|a| a.as_str()).collect::<Vec<_>>(),
        });
        append(&tx, &audit).await?;
        let host = load_host(&tx, account_id)
            .await?
            .ok_or_else(|| StoreError::Internal("host vanished".into()))?;
        tx.commit().await.map_err(db_error)?;
        Ok(host)
    }

    async fn host_tenants(&self, account_id: i64) -> Result<Vec<Tenant>, StoreError> {
        let client = self.client().await?;
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
             WHERE hp.account_id = $1 AND n.superseded_at IS NULL AND r.ended_at IS NULL \
             ORDER BY a.id, k.name_latin, n.id"
        );
        query(&client, &sql, &[&account_id])
            .await?
            .iter()
            .map(|r| {
                Ok(Tenant {
                    notice_id: get(r, 0)?,
                    name_latin: get(r, 1)?,
                    name_cyrillic: get(r, 2)?,
                    card_masked: mask_card(get::<&str>(r, 3)?),
                    since: get::<PgDate>(r, 4)?.0,
                    disputed: get(r, 5)?,
                    address: address_from_row(r, 6)?,
                })
            })
            .collect()
    }

    async fn file_child_notice(
        &self,
        rules: NoticeRules,
        geofence: Arc<Geofence>,
        notice: NewChildNotice,
        now: Timestamp,
        audit: AuditEntry,
    ) -> Result<ChildNoticeOutcome, StoreError> {
        let now_sys = to_system(now);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let parent_id: Option<i64> = query_opt(
            &tx,
            "SELECT id FROM persons WHERE card_number = $1",
            &[&notice.parent_card.as_str()],
        )
        .await?
        .map(|r| get(&r, 0))
        .transpose()?;
        let parent = match parent_id {
            Some(id) => load_person(&tx, id, true).await?,
            None => None,
        };
        // An unknown card gets the same answer as an unregistered parent.
        let parent = parent.ok_or(ChildNoticeRefusal::ParentNotRegistered)?;
        let address = load_address(&tx, notice.address_id.as_str())
            .await?
            .ok_or(StayError::UnknownAddress)?;
        let host_property = query_opt(
            &tx,
            "SELECT 1 FROM host_properties WHERE account_id = $1 AND address_id = $2",
            &[&notice.host_account_id, &notice.address_id.as_str()],
        )
        .await?
        .is_some();
        let child: Option<(i64, i64)> = match query_opt(
            &tx,
            "SELECT id, parent_person_id FROM children \
             WHERE citizenship = $1 AND document = $2 FOR UPDATE",
            &[&notice.citizenship.as_str(), &notice.document.as_str()],
        )
        .await?
        {
            Some(r) => Some((get(&r, 0)?, get(&r, 1)?)),
            None => None,
        };
        let current = match child {
            Some((child_id, _)) => match query_opt(
                &tx,
                "SELECT id, address_id, arrival_date FROM child_notices \
                 WHERE child_id = $1 AND superseded_at IS NULL",
                &[&child_id],
            )
            .await?
            {
                Some(r) => Some((
                    get::<i64>(&r, 0)?,
                    CurrentChildNotice {
                        address_id: AddressId::parse(get(&r, 1)?)
                            .map_err(|_| bad_stored("child notice address"))?,
                        arrival_date: get::<PgDate>(&r, 2)?.0,
                    },
                )),
                None => None,
            },
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
            let record = child_notice_by_id(&tx, id).await?;
            tx.commit().await.map_err(db_error)?;
            return Ok(ChildNoticeOutcome {
                notice: record,
                created: false,
            });
        }
        let child_id: i64 = match child {
            Some((id, _)) => {
                execute(
                    &tx,
                    "UPDATE children SET name = $2, birth_date = $3, updated_at = $4 WHERE id = $1",
                    &[&id, &notice.name, &PgDate(notice.birth_date), &now_sys],
                )
                .await?;
                id
            }
            None => get(
                &query_one(
                    &tx,
                    "INSERT INTO children (parent_person_id, name, birth_date, citizenship, \
                     document, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) \
                     RETURNING id",
                    &[
                        &parent.person_id,
                        &notice.name,
                        &PgDate(notice.birth_date),
                        &notice.citizenship.as_str(),
                        &notice.document.as_str(),
                        &now_sys,
                    ],
                )
                .await?,
                0,
            )?,
        };
        let superseded = current.map(|c| c.0);
        if let Some(old) = superseded {
            execute(
                &tx,
                "UPDATE child_notices SET superseded_at = $2 WHERE id = $1",
                &[&old, &now_sys],
            )
            .await?;
        }
        let id: i64 = get(
            &query_one(
                &tx,
                "INSERT INTO child_notices (child_id, address_id, arrival_date, host_account_id, \
                 submitted_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                &[
                    &child_id,
                    &notice.address_id.as_str(),
                    &PgDate(notice.arrival_date),
                    &notice.host_account_id,
                    &now_sys,
                ],
            )
            .await?,
            0,
        )?;
        if let Some(old) = superseded {
            execute(
                &tx,
                "UPDATE child_notices SET superseded_by = $2 WHERE id = $1",
                &[&old, &id],
            )
            .await?;
        }
        let actor = format!("host_party:{}", notice.host_account_id);
        let detail = serde_json::json!({
            "child_notice_id": id, "child_id": child_id,
            "address_id": notice.address_id.as_str(),
            "arrival_date": notice.arrival_date.to_string(),
            "supersedes": superseded,
        });
        add_event(
            &tx,
            parent.person_id,
            now,
            "child_arrival_notice",
            &actor,
            detail.clone(),
        )
        .await?;
        let mut audit = audit;
        audit.subject = format!("person:{}", parent.person_id);
        audit.detail = detail;
        append(&tx, &audit).await?;
        let record = child_notice_by_id(&tx, id).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(ChildNoticeOutcome {
            notice: record,
            created: true,
        })
    }

    async fn child_notices_by_host(
        &self,
        account_id: i64,
    ) -> Result<Vec<ChildNoticeRecord>, StoreError> {
        let client = self.client().await?;
        children_where(&client, "n.host_account_id = $1", account_id).await
    }

    async fn child_notices_of_parent(
        &self,
        person_id: i64,
    ) -> Result<Vec<ChildNoticeRecord>, StoreError> {
        let client = self.client().await?;
        children_where(&client, "c.parent_person_id = $1", person_id).await
    }

    async fn dispute_registration(
        &self,
        account_id: i64,
        notice_id: i64,
        statement: String,
        now: Timestamp,
        audit: AuditEntry,
    ) -> Result<RaisedSignal, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let row = query_opt(
            &tx,
            "SELECT n.person_id, n.address_id FROM stay_notices n \
             JOIN registrations r ON r.id = n.registration_id \
             JOIN host_properties hp ON hp.address_id = n.address_id \
             WHERE n.id = $1 AND hp.account_id = $2 \
               AND n.superseded_at IS NULL AND r.ended_at IS NULL",
            &[&notice_id, &account_id],
        )
        .await?
        .ok_or(HostError::NotYourTenant)?;
        let person_id: i64 = get(&row, 0)?;
        let address = AddressId::parse(get(&row, 1)?).map_err(|_| bad_stored("address id"))?;
        // The person's row lock serialises disputes of the same person.
        execute(
            &tx,
            "SELECT 1 FROM persons WHERE id = $1 FOR UPDATE",
            &[&person_id],
        )
        .await?;
        let prefix = dispute_key_prefix(&address);
        let open = query_opt(
            &tx,
            "SELECT 1 FROM signals WHERE kind = 'address_disputed' AND person_id = $1 \
             AND status IN ('open', 'in_review') \
             AND substr(dedup_key, 1, length($2)) = $2",
            &[&person_id, &prefix],
        )
        .await?
        .is_some();
        if open {
            return Err(HostError::DisputeOpen.into());
        }
        let rule = dispute_signal(&address, account_id, &statement, now);
        let signal = crate::signals::rule_signal(person_id, rule);
        let raised = insert_signal(&tx, &signal).await?;
        let mut audit = audit;
        audit.subject = format!("person:{person_id}");
        audit.detail = serde_json::json!({
            "signal_id": raised.id, "address_id": address.as_str(),
            "notice_id": notice_id, "statement": statement,
        });
        append(&tx, &audit).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(raised)
    }
}
