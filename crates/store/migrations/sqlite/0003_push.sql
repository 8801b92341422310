-- Web Push and the daily check-in (amina_store::push). Conventions as in
-- 0001_spine.sql: instants are INTEGER milliseconds UTC, JSON is TEXT.

-- The server's VAPID key pair (RFC 8292): exactly one row, inserted by the
-- first node to start; every node then reads the same key.
CREATE TABLE push_vapid (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    private_pkcs8 BLOB NOT NULL,          -- secret: never logged, never served
    public_key    BLOB NOT NULL,          -- SEC1 uncompressed P-256 (65 bytes)
    created_at    INTEGER NOT NULL
);

-- Every check-in the app sent (opening the app sends one), never updated.
CREATE TABLE checkins (
    id                  INTEGER PRIMARY KEY,
    person_id           INTEGER NOT NULL REFERENCES persons(id),
    device_id           TEXT NOT NULL REFERENCES devices(id),
    at                  INTEGER NOT NULL,     -- received by the server
    location_permission TEXT NOT NULL
                        CHECK (location_permission IN ('granted', 'prompt', 'denied', 'unsupported')),
    push_permission     TEXT NOT NULL
                        CHECK (push_permission IN ('granted', 'prompt', 'denied', 'unsupported')),
    queued_fixes        INTEGER NOT NULL CHECK (queued_fixes >= 0),
    geo_error           INTEGER CHECK (geo_error IN (1, 2, 3)),  -- W3C GeolocationPositionError code
    battery_pct         INTEGER CHECK (battery_pct BETWEEN 0 AND 100)
);
CREATE INDEX checkins_person ON checkins (person_id, at);

-- The last check-in, on the person: what the push rules read.
ALTER TABLE persons ADD COLUMN last_checkin_id INTEGER REFERENCES checkins(id);

-- One push subscription per person: the browser of the active device.
-- `next_check_at` is when the push rules must look at the person again; the
-- scheduler reads it through the partial index, never scanning everyone.
CREATE TABLE push_subscriptions (
    person_id     INTEGER PRIMARY KEY REFERENCES persons(id),
    device_id     TEXT NOT NULL REFERENCES devices(id),
    endpoint      TEXT NOT NULL,
    p256dh        BLOB NOT NULL,              -- SEC1 uncompressed P-256
    auth          BLOB NOT NULL,              -- 16-byte auth secret
    lang          TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('active', 'gone', 'removed')),
    subscribed_at INTEGER NOT NULL,           -- when this endpoint was first stored
    updated_at    INTEGER NOT NULL,
    gone_at       INTEGER,
    next_check_at INTEGER
);
CREATE INDEX push_subscriptions_due ON push_subscriptions (next_check_at) WHERE status = 'active';

-- Decided notices: one per (person, occurrence key), so a notice is never
-- decided twice. Sending leases a row by moving next_attempt_at forward.
CREATE TABLE push_outbox (
    id              INTEGER PRIMARY KEY,
    person_id       INTEGER NOT NULL REFERENCES persons(id),
    occurrence_key  TEXT NOT NULL,
    kind            TEXT NOT NULL,
    notice          TEXT NOT NULL,           -- JSON amina_domain::reminders::Notice
    decided_at      INTEGER NOT NULL,
    state           TEXT NOT NULL
                    CHECK (state IN ('pending', 'sent', 'gone', 'failed', 'dropped')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_status     INTEGER,
    sent_at         INTEGER,
    UNIQUE (person_id, occurrence_key)
);
CREATE INDEX push_outbox_due ON push_outbox (next_attempt_at) WHERE state = 'pending';

-- Every attempt to deliver a notice, never updated.
CREATE TABLE push_deliveries (
    id          INTEGER PRIMARY KEY,
    outbox_id   INTEGER NOT NULL REFERENCES push_outbox(id),
    at          INTEGER NOT NULL,
    status_code INTEGER,                     -- NULL: no answer (transport error)
    error       TEXT
);
CREATE INDEX push_deliveries_outbox ON push_deliveries (outbox_id);
