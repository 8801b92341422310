-- Key-bound device sessions, SQLite flavour: opened with one request
-- signed by the device key, then every request carries an HMAC-SHA256 tag
-- made with `mac_key` (see amina_client::session). Expired rows are deleted
-- by the retention job, through the index on the expiry.
CREATE TABLE device_sessions (
    id         TEXT PRIMARY KEY,
    device_id  TEXT NOT NULL REFERENCES devices(id),
    mac_key    BLOB NOT NULL CHECK (length(mac_key) = 32),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX device_sessions_expiry ON device_sessions (expires_at);
