//! [`OwnTracksStore`] on SQLite. Writes run on the single writer thread, so
//! a binding sees and changes the person's devices alone.

use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::{params, Connection, OptionalExtension};

use super::{add_event, device_from_row, SqliteStore, DEVICE_COLUMNS};
use crate::time::to_ms;
use crate::*;

fn load_device(conn: &Connection, id: &str) -> Result<Option<DeviceRecord>, StoreError> {
    let sql = format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE id = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params![id])?;
    match rows.next()? {
        Some(row) => Ok(Some(device_from_row(row)?)),
        None => Ok(None),
    }
}

/// device id, person id, status, secret hash, key, tid.
type CredentialRow = (String, i64, String, Vec<u8>, String, String);

fn status_of(s: &str) -> DeviceStatus {
    if s == "active" {
        DeviceStatus::Active
    } else {
        DeviceStatus::Revoked
    }
}

#[async_trait]
impl OwnTracksStore for SqliteStore {
    async fn bind_owntracks(
        &self,
        person_id: i64,
        companion: Option<String>,
        device: NewOwnTracksDevice,
        now: Timestamp,
    ) -> Result<DeviceRecord, StoreError> {
        self.write(move |conn| {
            let exists: bool = conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM persons WHERE id = ?1)",
                params![person_id],
                |r| r.get(0),
            )?;
            if !exists {
                return Err(StoreError::UnknownPerson);
            }
            let previous: Option<String> = conn
                .query_row(
                    "SELECT id FROM devices WHERE person_id = ?1 AND status = 'active'",
                    params![person_id],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(prev) = &previous {
                conn.execute(
                    "UPDATE devices SET status = 'revoked', revoked_at = ?2, revoked_by = ?3, \
                     revoke_reason = 'rebound' WHERE id = ?1",
                    params![prev, to_ms(now), device.actor],
                )?;
                add_event(
                    conn,
                    person_id,
                    now,
                    "device_revoked",
                    &device.actor,
                    serde_json::json!({"device_id": prev, "reason": "rebound", "replaced_by": device.id}),
                )?;
            }
            conn.execute(
                "INSERT INTO devices (id, person_id, public_key, key_thumbprint, kind, status, \
                 bound_at, bound_by) VALUES (?1, ?2, X'', ?3, ?4, 'active', ?5, ?6)",
                params![
                    device.id,
                    person_id,
                    format!("owntracks:{}", device.id),
                    OWNTRACKS_KIND,
                    to_ms(now),
                    device.actor
                ],
            )?;
            conn.execute(
                "INSERT INTO owntracks_credentials (device_id, secret_sha256, secretbox_key, tid, \
                 created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    device.id,
                    device.secret_sha256.as_slice(),
                    device.secretbox_key.expose(),
                    device.tid,
                    to_ms(now)
                ],
            )?;
            if let Some(c) = &companion {
                conn.execute(
                    "UPDATE devices SET companion_of = ?2 WHERE id = ?1 AND person_id = ?3 \
                     AND kind <> ?4",
                    params![c, device.id, person_id, OWNTRACKS_KIND],
                )?;
            }
            conn.execute(
                "UPDATE persons SET active_device_id = ?2 WHERE id = ?1",
                params![person_id, device.id],
            )?;
            add_event(
                conn,
                person_id,
                now,
                if previous.is_some() { "device_rebound" } else { "device_bound" },
                &device.actor,
                serde_json::json!({"device_id": device.id, "kind": OWNTRACKS_KIND,
                                   "previous_device_id": previous, "companion": companion}),
            )?;
            load_device(conn, &device.id)?
                .ok_or_else(|| StoreError::Internal("device vanished after insert".into()))
        })
        .await
    }

    async fn owntracks_credential(
        &self,
        device_id: &str,
    ) -> Result<Option<OwnTracksCredential>, StoreError> {
        let id = device_id.to_string();
        self.read(move |conn| {
            let row: Option<CredentialRow> = conn
                .prepare_cached(
                    "SELECT d.id, d.person_id, d.status, c.secret_sha256, c.secretbox_key, c.tid \
                     FROM owntracks_credentials c JOIN devices d ON d.id = c.device_id \
                     WHERE c.device_id = ?1",
                )?
                .query_row(params![id], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                })
                .optional()?;
            row.map(|(device_id, person_id, status, hash, key, tid)| {
                Ok(OwnTracksCredential {
                    device_id,
                    person_id,
                    status: status_of(&status),
                    secret_sha256: hash
                        .try_into()
                        .map_err(|_| StoreError::Internal("bad secret hash length".into()))?,
                    secretbox_key: SecretboxKey::new(key),
                    tid,
                })
            })
            .transpose()
        })
        .await
    }

    async fn companion_of(
        &self,
        device_id: &str,
    ) -> Result<Option<(String, DeviceStatus)>, StoreError> {
        let id = device_id.to_string();
        self.read(move |conn| {
            let row: Option<(String, String)> = conn
                .prepare_cached(
                    "SELECT o.id, o.status FROM devices d JOIN devices o ON o.id = d.companion_of \
                     WHERE d.id = ?1",
                )?
                .query_row(params![id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            Ok(row.map(|(id, status)| (id, status_of(&status))))
        })
        .await
    }

    async fn stop_owntracks(
        &self,
        companion_id: &str,
        now: Timestamp,
    ) -> Result<DeviceRecord, StoreError> {
        let id = companion_id.to_string();
        self.write(move |conn| {
            let me = load_device(conn, &id)?.ok_or(StoreError::UnknownDevice)?;
            if me.status == DeviceStatus::Active {
                return Ok(me);
            }
            let target: Option<(String, String)> = conn
                .query_row(
                    "SELECT o.id, o.status FROM devices d JOIN devices o ON o.id = d.companion_of \
                     WHERE d.id = ?1",
                    params![id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((owntracks, status)) = target else {
                return Err(StoreError::DeviceRevoked);
            };
            if status != "active" {
                return Err(StoreError::DeviceRevoked);
            }
            conn.execute(
                "UPDATE devices SET status = 'revoked', revoked_at = ?2, revoked_by = 'self', \
                 revoke_reason = 'rebound' WHERE id = ?1",
                params![owntracks, to_ms(now)],
            )?;
            add_event(
                conn,
                me.person_id,
                now,
                "device_revoked",
                "self",
                serde_json::json!({"device_id": owntracks, "reason": "rebound", "replaced_by": id}),
            )?;
            conn.execute(
                "UPDATE devices SET status = 'active', revoked_at = NULL, revoked_by = NULL, \
                 revoke_reason = NULL, companion_of = NULL WHERE id = ?1",
                params![id],
            )?;
            conn.execute(
                "UPDATE persons SET active_device_id = ?2 WHERE id = ?1",
                params![me.person_id, id],
            )?;
            add_event(
                conn,
                me.person_id,
                now,
                "device_rebound",
                "self",
                serde_json::json!({"device_id": id, "kind": me.kind,
                                   "previous_device_id": owntracks}),
            )?;
            load_device(conn, &id)?.ok_or(StoreError::UnknownDevice)
        })
        .await
    }
}
