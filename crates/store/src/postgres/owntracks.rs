//! [`OwnTracksStore`] on PostgreSQL. A binding locks the person row, as
//! `bind_device` does, so no batch is stored for the old device while it is
//! being revoked and two bindings for one person run in turn.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use jiff::Timestamp;

use super::{
    add_event, db_error, device_from_row, execute, get, query_one, query_opt, PostgresStore,
    DEVICE_COLUMNS,
};
use crate::time::to_system;
use crate::*;

async fn load_device<C: GenericClient>(
    c: &C,
    id: &str,
) -> Result<Option<DeviceRecord>, StoreError> {
    let sql = format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE id = $1");
    query_opt(c, &sql, &[&id])
        .await?
        .as_ref()
        .map(device_from_row)
        .transpose()
}

fn status_of(s: &str) -> DeviceStatus {
    if s == "active" {
        DeviceStatus::Active
    } else {
        DeviceStatus::Revoked
    }
}

#[async_trait]
impl OwnTracksStore for PostgresStore {
    async fn bind_owntracks(
        &self,
        person_id: i64,
        companion: Option<String>,
        device: NewOwnTracksDevice,
        now: Timestamp,
    ) -> Result<DeviceRecord, StoreError> {
        let now_sys = to_system(now);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        if query_opt(
            &tx,
            "SELECT 1 FROM persons WHERE id = $1 FOR UPDATE",
            &[&person_id],
        )
        .await?
        .is_none()
        {
            return Err(StoreError::UnknownPerson);
        }
        let previous: Option<String> = match query_opt(
            &tx,
            "SELECT id FROM devices WHERE person_id = $1 AND status = 'active'",
            &[&person_id],
        )
        .await?
        {
            Some(row) => Some(get(&row, 0)?),
            None => None,
        };
        if let Some(prev) = &previous {
            execute(
                &tx,
                "UPDATE devices SET status = 'revoked', revoked_at = $2, revoked_by = $3, \
                 revoke_reason = 'rebound' WHERE id = $1",
                &[prev, &now_sys, &device.actor],
            )
            .await?;
            add_event(
                &tx,
                person_id,
                now,
                "device_revoked",
                &device.actor,
                serde_json::json!({"device_id": prev, "reason": "rebound", "replaced_by": device.id}),
            )
            .await?;
        }
        let thumbprint = format!("owntracks:{}", device.id);
        let empty: &[u8] = &[];
        execute(
            &tx,
            "INSERT INTO devices (id, person_id, public_key, key_thumbprint, kind, status, \
             bound_at, bound_by) VALUES ($1, $2, $3, $4, $5, 'active', $6, $7)",
            &[
                &device.id,
                &person_id,
                &empty,
                &thumbprint,
                &OWNTRACKS_KIND,
                &now_sys,
                &device.actor,
            ],
        )
        .await?;
        execute(
            &tx,
            "INSERT INTO owntracks_credentials (device_id, secret_sha256, secretbox_key, tid, \
             created_at) VALUES ($1, $2, $3, $4, $5)",
            &[
                &device.id,
                &device.secret_sha256.as_slice(),
                &device.secretbox_key.expose(),
                &device.tid,
                &now_sys,
            ],
        )
        .await?;
        if let Some(c) = &companion {
            execute(
                &tx,
                "UPDATE devices SET companion_of = $2 WHERE id = $1 AND person_id = $3 \
                 AND kind <> $4",
                &[c, &device.id, &person_id, &OWNTRACKS_KIND],
            )
            .await?;
        }
        execute(
            &tx,
            "UPDATE persons SET active_device_id = $2 WHERE id = $1",
            &[&person_id, &device.id],
        )
        .await?;
        add_event(
            &tx,
            person_id,
            now,
            if previous.is_some() {
                "device_rebound"
            } else {
                "device_bound"
            },
            &device.actor,
            serde_json::json!({"device_id": device.id, "kind": OWNTRACKS_KIND,
                               "previous_device_id": previous, "companion": companion}),
        )
        .await?;
        let record = load_device(&tx, &device.id)
            .await?
            .ok_or_else(|| StoreError::Internal("device vanished after insert".into()))?;
        tx.commit().await.map_err(db_error)?;
        Ok(record)
    }

    async fn owntracks_credential(
        &self,
        device_id: &str,
    ) -> Result<Option<OwnTracksCredential>, StoreError> {
        let client = self.client().await?;
        let Some(row) = query_opt(
            &client,
            "SELECT d.id, d.person_id, d.status, c.secret_sha256, c.secretbox_key, c.tid \
             FROM owntracks_credentials c JOIN devices d ON d.id = c.device_id \
             WHERE c.device_id = $1",
            &[&device_id],
        )
        .await?
        else {
            return Ok(None);
        };
        let status: String = get(&row, 2)?;
        let hash: Vec<u8> = get(&row, 3)?;
        Ok(Some(OwnTracksCredential {
            device_id: get(&row, 0)?,
            person_id: get(&row, 1)?,
            status: status_of(&status),
            secret_sha256: hash
                .try_into()
                .map_err(|_| StoreError::Internal("bad secret hash length".into()))?,
            secretbox_key: SecretboxKey::new(get(&row, 4)?),
            tid: get(&row, 5)?,
        }))
    }

    async fn companion_of(
        &self,
        device_id: &str,
    ) -> Result<Option<(String, DeviceStatus)>, StoreError> {
        let client = self.client().await?;
        let row = query_opt(
            &client,
            "SELECT o.id, o.status FROM devices d JOIN devices o ON o.id = d.companion_of \
             WHERE d.id = $1",
            &[&device_id],
        )
        .await?;
        match row {
            None => Ok(None),
            Some(row) => {
                let status: String = get(&row, 1)?;
                Ok(Some((get(&row, 0)?, status_of(&status))))
            }
        }
    }

    async fn stop_owntracks(
        &self,
        companion_id: &str,
        now: Timestamp,
    ) -> Result<DeviceRecord, StoreError> {
        let now_sys = to_system(now);
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db_error)?;
        let me = load_device(&tx, companion_id)
            .await?
            .ok_or(StoreError::UnknownDevice)?;
        query_one(
            &tx,
            "SELECT 1 FROM persons WHERE id = $1 FOR UPDATE",
            &[&me.person_id],
        )
        .await?;
        // Read again under the person's lock: a concurrent binding may
        // have changed the devices.
        let me = load_device(&tx, companion_id)
            .await?
            .ok_or(StoreError::UnknownDevice)?;
        if me.status == DeviceStatus::Active {
            return Ok(me);
        }
        let target = query_opt(
            &tx,
            "SELECT o.id, o.status FROM devices d JOIN devices o ON o.id = d.companion_of \
             WHERE d.id = $1",
            &[&companion_id],
        )
        .await?;
        let Some(target) = target else {
            return Err(StoreError::DeviceRevoked);
        };
        let owntracks: String = get(&target, 0)?;
        let status: String = get(&target, 1)?;
        if status != "active" {
            return Err(StoreError::DeviceRevoked);
        }
        execute(
            &tx,
            "UPDATE devices SET status = 'revoked', revoked_at = $2, revoked_by = 'self', \
             revoke_reason = 'rebound' WHERE id = $1",
            &[&owntracks, &now_sys],
        )
        .await?;
        add_event(
            &tx,
            me.person_id,
            now,
            "device_revoked",
            "self",
            serde_json::json!({"device_id": owntracks, "reason": "rebound",
                               "replaced_by": companion_id}),
        )
        .await?;
        execute(
            &tx,
            "UPDATE devices SET status = 'active', revoked_at = NULL, revoked_by = NULL, \
             revoke_reason = NULL, companion_of = NULL WHERE id = $1",
            &[&companion_id],
        )
        .await?;
        execute(
            &tx,
            "UPDATE persons SET active_device_id = $2 WHERE id = $1",
            &[&me.person_id, &companion_id],
        )
        .await?;
        add_event(
            &tx,
            me.person_id,
            now,
            "device_rebound",
            "self",
            serde_json::json!({"device_id": companion_id, "kind": me.kind,
                               "previous_device_id": owntracks}),
        )
        .await?;
        let record = load_device(&tx, companion_id)
            .await?
            .ok_or(StoreError::UnknownDevice)?;
        tx.commit().await.map_err(db_error)?;
        Ok(record)
    }
}
