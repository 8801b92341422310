//! [`SessionStore`] on SQLite.

use async_trait::async_trait;
use jiff::Timestamp;
use rusqlite::{params, OptionalExtension, Row};

use super::SqliteStore;
use crate::time::{from_ms, to_ms};
use crate::*;

const SESSION_SELECT: &str = "SELECT s.id, s.device_id, d.person_id, s.mac_key, s.created_at, \
     s.expires_at FROM device_sessions s JOIN devices d ON d.id = s.device_id WHERE s.id = ?1";

fn session_from_row(r: &Row<'_>) -> Result<DeviceSessionRecord, StoreError> {
    Ok(DeviceSessionRecord {
        id: r.get(0)?,
        device_id: r.get(1)?,
        person_id: r.get(2)?,
        mac_key: r.get(3)?,
        created_at: from_ms(r.get(4)?)?,
        expires_at: from_ms(r.get(5)?)?,
    })
}

fn load_session(
    conn: &rusqlite::Connection,
    id: &str,
) -> Result<Option<DeviceSessionRecord>, StoreError> {
    conn.prepare_cached(SESSION_SELECT)?
        .query_row(params![id], |r| Ok(session_from_row(r)))
        .optional()?
        .transpose()
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn insert_device_session(
        &self,
        session: NewDeviceSession,
    ) -> Result<DeviceSessionRecord, StoreError> {
        self.write(move |conn| {
            let known: bool = conn
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM devices WHERE id = ?1)")?
                .query_row(params![session.device_id], |r| r.get(0))?;
            if !known {
                return Err(StoreError::UnknownDevice);
            }
            conn.prepare_cached(
                "INSERT INTO device_sessions (id, device_id, mac_key, created_at, expires_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                session.id,
                session.device_id,
                session.mac_key,
                to_ms(session.created_at),
                to_ms(session.expires_at)
            ])?;
            load_session(conn, &session.id)?
                .ok_or_else(|| StoreError::Internal("a stored session is not found".into()))
        })
        .await
    }

    async fn device_session(&self, id: &str) -> Result<Option<DeviceSessionRecord>, StoreError> {
        let id = id.to_string();
        self.read(move |conn| load_session(conn, &id)).await
    }

    async fn purge_device_sessions(&self, now: Timestamp) -> Result<u64, StoreError> {
        self.write(move |conn| {
            let n = conn
                .prepare_cached("DELETE FROM device_sessions WHERE expires_at < ?1")?
                .execute(params![to_ms(now)])?;
            Ok(n as u64)
        })
        .await
    }
}
