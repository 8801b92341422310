-- amina schema, SQLite flavour.
-- Conventions: instants are INTEGER milliseconds since the Unix epoch, UTC;
-- civil dates are TEXT 'YYYY-MM-DD'; booleans are INTEGER 0/1; JSON is TEXT.
-- Rows that record history (registrations, deregistrations, person_events,
-- fixes) are never updated except to close them (ended_at, revoked_at).

-- Foreign citizen cards imported from the external card registry.
CREATE TABLE cards (
    number          TEXT PRIMARY KEY,
    secret_hash     TEXT NOT NULL,          -- Argon2id PHC string
    name_latin      TEXT NOT NULL,
    name_cyrillic   TEXT NOT NULL,
    citizenship     TEXT NOT NULL,          -- ISO 3166-1 alpha-3
    birth_date      TEXT NOT NULL,
    purpose         TEXT NOT NULL,
    valid_until     TEXT NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0, -- consecutive wrong secrets
    last_failed_at  INTEGER,
    locked_at       INTEGER,
    imported_at     INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

-- One row per enrolled person (one per card); the monitoring state is kept
-- here so that a fix touches one row.
CREATE TABLE persons (
    id                      INTEGER PRIMARY KEY,
    card_number             TEXT NOT NULL UNIQUE REFERENCES cards(number),
    status                  TEXT NOT NULL CHECK (status IN ('registered', 'deregistered')),
    registration_id         INTEGER NOT NULL,  -- current or last registration
    registration_started_at INTEGER NOT NULL,
    last_monitoring_at      INTEGER,
    deadline_at             INTEGER NOT NULL,  -- inclusive last instant
    presence                TEXT NOT NULL,
    presence_since          INTEGER,
    trusted_lat             REAL,
    trusted_lon             REAL,
    trusted_accuracy_m      REAL,
    trusted_at              INTEGER,
    pending_jump            TEXT,              -- JSON KnownPosition or NULL
    active_device_id        TEXT,
    created_at              INTEGER NOT NULL
);
-- The scheduler's work is proportional to the people due, not to everyone.
CREATE INDEX persons_due ON persons (deadline_at) WHERE status = 'registered';

-- Each period of registration; a person re-registering gets a new row.
CREATE TABLE registrations (
    id          INTEGER PRIMARY KEY,
    person_id   INTEGER NOT NULL REFERENCES persons(id),
    started_at  INTEGER NOT NULL,
    ended_at    INTEGER,
    end_reason  TEXT
);
CREATE INDEX registrations_person ON registrations (person_id);

-- Single-use tokens that let a freshly enrolled person bind a device.
CREATE TABLE binding_tokens (
    token_hash  BLOB PRIMARY KEY,               -- SHA-256 of the token
    person_id   INTEGER NOT NULL REFERENCES persons(id),
    issued_at   INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    issued_by   TEXT NOT NULL,
    used_at     INTEGER
);

-- Devices and their public keys. At most one active device per person.
CREATE TABLE devices (
    id             TEXT PRIMARY KEY,
    person_id      INTEGER NOT NULL REFERENCES persons(id),
    public_key     BLOB NOT NULL,               -- SEC1 uncompressed P-256
    key_thumbprint TEXT NOT NULL UNIQUE,        -- RFC 7638
    kind           TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
    bound_at       INTEGER NOT NULL,
    bound_by       TEXT NOT NULL,
    revoked_at     INTEGER,
    revoked_by     TEXT,
    revoke_reason  TEXT
);
CREATE UNIQUE INDEX devices_one_active ON devices (person_id) WHERE status = 'active';

-- Every accepted fix, identified by (device, seq) forever: that key makes
-- uploads idempotent.
CREATE TABLE fixes (
    device_id    TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    person_id    INTEGER NOT NULL,
    lat          REAL NOT NULL,
    lon          REAL NOT NULL,
    accuracy_m   REAL NOT NULL,
    recorded_at  INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,
    source       TEXT NOT NULL,
    mock         INTEGER NOT NULL,
    battery_pct  INTEGER,
    zone         TEXT NOT NULL,
    flags        INTEGER NOT NULL,               -- bit 0 mock location, bit 1 implausible speed
    counted      INTEGER NOT NULL,               -- counted towards the monitoring window
    PRIMARY KEY (device_id, seq)
) WITHOUT ROWID;
CREATE INDEX fixes_person_time ON fixes (person_id, recorded_at);

-- Deregistrations: at most one per registration, which makes the scheduler
-- idempotent even if it runs twice.
CREATE TABLE deregistrations (
    id              INTEGER PRIMARY KEY,
    registration_id INTEGER NOT NULL UNIQUE REFERENCES registrations(id),
    person_id       INTEGER NOT NULL REFERENCES persons(id),
    reason          TEXT NOT NULL,
    effective_at    INTEGER NOT NULL,
    decided_at      INTEGER NOT NULL,
    decided_by      TEXT NOT NULL,
    evidence        TEXT NOT NULL,
    rule_version    TEXT NOT NULL
);
CREATE INDEX deregistrations_person ON deregistrations (person_id);

-- The person's history as the console and the person will see it.
CREATE TABLE person_events (
    id        INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES persons(id),
    at        INTEGER NOT NULL,
    kind      TEXT NOT NULL,
    actor     TEXT NOT NULL,
    detail    TEXT NOT NULL
);
CREATE INDEX person_events_person ON person_events (person_id, at);
