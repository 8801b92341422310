-- Key-bound device sessions, PostgreSQL flavour: opened with one request
-- signed by the device key, then every request carries an HMAC-SHA256 tag
-- made with `mac_key` (see amina_client::session). Every node reads the
-- same rows, so a session opened on one node is checked on any other.
-- Expired rows are deleted by the retention job, through the index on the
-- expiry.
CREATE TABLE device_sessions (
    id         text PRIMARY KEY,
    device_id  text NOT NULL REFERENCES devices(id),
    mac_key    bytea NOT NULL CHECK (length(mac_key) = 32),
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX device_sessions_expiry ON device_sessions (expires_at);
