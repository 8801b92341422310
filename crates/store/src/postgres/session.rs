//! [`SessionStore`] on PostgreSQL.

use async_trait::async_trait;
use jiff::Timestamp;

use super::{execute, get, query_opt, ts, PostgresStore};
use crate::time::to_system;
use crate::*;

const SESSION_SELECT: &str = "SELECT s.id, s.device_id, d.person_id, s.mac_key, s.created_at, \
     s.expires_at FROM device_sessions s JOIN devices d ON d.id = s.device_id WHERE s.id = $1";

fn session_from_row(row: &tokio_postgres::Row) -> Result<DeviceSessionRecord, StoreError> {
    Ok(DeviceSessionRecord {
        id: get(row, 0)?,
        device_id: get(row, 1)?,
        person_id: get(row, 2)?,
        mac_key: get(row, 3)?,
        created_at: ts(row, 4)?,
        expires_at: ts(row, 5)?,
    })
}

#[async_trait]
impl SessionStore for PostgresStore {
    async fn insert_device_session(
        &self,
        session: NewDeviceSession,
    ) -> Result<DeviceSessionRecord, StoreError> {
        let client = self.client().await?;
        // The foreign key refuses an unknown device; one statement, so no
        // transaction is needed.
        let inserted = execute(
            &client,
            "INSERT INTO device_sessions (id, device_id, mac_key, created_at, expires_at) \
             SELECT $1, id, $3, $4, $5 FROM devices WHERE id = $2",
            &[
                &session.id,
                &session.device_id,
                &session.mac_key,
                &to_system(session.created_at),
                &to_system(session.expires_at),
            ],
        )
        .await?;
        if inserted == 0 {
            return Err(StoreError::UnknownDevice);
        }
        query_opt(&client, SESSION_SELECT, &[&session.id])
            .await?
            .as_ref()
            .map(session_from_row)
            .transpose()?
            .ok_or_else(|| StoreError::Internal("a stored session is not found".into()))
    }

    async fn device_session(&self, id: &str) -> Result<Option<DeviceSessionRecord>, StoreError> {
        let client = self.client().await?;
        query_opt(&client, SESSION_SELECT, &[&id])
            .await?
            .as_ref()
            .map(session_from_row)
            .transpose()
    }

    async fn purge_device_sessions(&self, now: Timestamp) -> Result<u64, StoreError> {
        let client = self.client().await?;
        execute(
            &client,
            "DELETE FROM device_sessions WHERE expires_at < $1",
            &[&to_system(now)],
        )
        .await
    }
}
