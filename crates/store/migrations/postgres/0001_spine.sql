-- amina schema, PostgreSQL + PostGIS flavour. Mirrors migrations/sqlite/0001_spine.sql
-- table for table and column for column, so both backends pass one test suite.
--
-- Conventions:
-- - instants are timestamptz (UTC, microseconds); fix times arrive as whole
--   milliseconds, so they round-trip exactly in both backends;
-- - civil dates (card validity, birth date) are date;
-- - surrogate ids are bigint identity columns;
-- - JSON is jsonb, flags are boolean, keys and hashes are bytea;
-- - closed vocabularies (status, presence) are text with a CHECK, the same
--   strings the SQLite schema stores;
-- - rows that record history (registrations, deregistrations, person_events,
--   fixes) are never updated except to close them (ended_at, revoked_at).
--
-- Concurrency: several server processes share this database. Every decision
-- about a person is taken while holding that person's row lock
-- (SELECT ... FOR UPDATE), and unique constraints are the last guard: one
-- deregistration per registration, one active device per person, one device
-- per public key, one fix per (device, seq).
--
-- The whole file runs in one transaction under an advisory lock (see
-- PostgresStore::migrate), tracked in schema_migrations.

-- PostGIS is not a "trusted" extension: in production a superuser creates it
-- once beforehand, and then this line is a no-op for the application role.
CREATE EXTENSION IF NOT EXISTS postgis;

-- Foreign citizen cards imported from the external card registry.
CREATE TABLE cards (
    number          text PRIMARY KEY,
    secret_hash     text NOT NULL,          -- Argon2id PHC string
    name_latin      text NOT NULL,
    name_cyrillic   text NOT NULL,
    citizenship     text NOT NULL,          -- ISO 3166-1 alpha-3
    birth_date      date NOT NULL,
    purpose         text NOT NULL,
    valid_until     date NOT NULL,
    failed_attempts integer NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0), -- consecutive wrong secrets
    last_failed_at  timestamptz,
    locked_at       timestamptz,
    imported_at     timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);

-- One row per enrolled person (one per card); the monitoring state is kept
-- here so that a batch of fixes locks and updates one row.
CREATE TABLE persons (
    id                      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    card_number             text NOT NULL UNIQUE REFERENCES cards(number),
    status                  text NOT NULL CHECK (status IN ('registered', 'deregistered')),
    -- Current or last registration. The foreign key is declared below, once
    -- registrations exists; it is deferred because a person and their first
    -- registration point at each other and are inserted in one transaction.
    registration_id         bigint NOT NULL,
    registration_started_at timestamptz NOT NULL,
    last_monitoring_at      timestamptz,
    deadline_at             timestamptz NOT NULL,  -- inclusive last instant
    presence                text NOT NULL
                            CHECK (presence IN ('unknown', 'in_region', 'outside', 'uncertain')),
    presence_since          timestamptz,
    -- The last trusted position. lat/lon/accuracy/at are what the rules read
    -- back; trusted_position is the same point as a geography, written
    -- together with them, for spatial queries ("who was last seen near X").
    trusted_lat             double precision,
    trusted_lon             double precision,
    trusted_accuracy_m      double precision,
    trusted_at              timestamptz,
    trusted_position        geography(Point, 4326),
    pending_jump            jsonb,                 -- KnownPosition or NULL
    active_device_id        text,
    created_at              timestamptz NOT NULL,
    CONSTRAINT persons_trusted_complete CHECK (
        (trusted_lat IS NULL) = (trusted_lon IS NULL)
        AND (trusted_lat IS NULL) = (trusted_accuracy_m IS NULL)
        AND (trusted_lat IS NULL) = (trusted_at IS NULL)
        AND (trusted_lat IS NULL) = (trusted_position IS NULL))
);
-- The scheduler's work is proportional to the people due, not to everyone.
CREATE INDEX persons_due ON persons (deadline_at) WHERE status = 'registered';
CREATE INDEX persons_trusted_position ON persons USING gist (trusted_position);

-- Each period of registration; a person re-registering gets a new row.
CREATE TABLE registrations (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id   bigint NOT NULL REFERENCES persons(id),
    started_at  timestamptz NOT NULL,
    ended_at    timestamptz,
    end_reason  text
);
CREATE INDEX registrations_person ON registrations (person_id);

ALTER TABLE persons ADD CONSTRAINT persons_registration_fk
    FOREIGN KEY (registration_id) REFERENCES registrations(id)
    DEFERRABLE INITIALLY DEFERRED;

-- Single-use tokens that let a freshly enrolled person bind a device.
CREATE TABLE binding_tokens (
    token_hash  bytea PRIMARY KEY CHECK (length(token_hash) = 32), -- SHA-256 of the token
    person_id   bigint NOT NULL REFERENCES persons(id),
    issued_at   timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    issued_by   text NOT NULL,
    used_at     timestamptz
);

-- Devices and their public keys. At most one active device per person.
CREATE TABLE devices (
    id             text PRIMARY KEY,
    person_id      bigint NOT NULL REFERENCES persons(id),
    public_key     bytea NOT NULL,              -- SEC1 uncompressed P-256
    key_thumbprint text NOT NULL,               -- RFC 7638
    kind           text NOT NULL,
    status         text NOT NULL CHECK (status IN ('active', 'revoked')),
    bound_at       timestamptz NOT NULL,
    bound_by       text NOT NULL,
    revoked_at     timestamptz,
    revoked_by     text,
    revoke_reason  text,
    -- The backend maps a violation of this constraint, by name, to
    -- "this public key is already bound".
    CONSTRAINT devices_key_thumbprint_unique UNIQUE (key_thumbprint)
);
CREATE UNIQUE INDEX devices_one_active ON devices (person_id) WHERE status = 'active';

-- Every accepted fix, identified by (device, seq) forever: that key makes
-- uploads idempotent. No foreign keys on this table: it takes the highest
-- insert rate, its rows are written only by ingest after the device and the
-- person were looked up (and locked) in the same transaction, and a foreign
-- key would cost an index probe per row.
CREATE TABLE fixes (
    device_id    text NOT NULL,
    seq          bigint NOT NULL CHECK (seq >= 1),
    person_id    bigint NOT NULL,
    lat          double precision NOT NULL,
    lon          double precision NOT NULL,
    accuracy_m   double precision NOT NULL,
    recorded_at  timestamptz NOT NULL,
    received_at  timestamptz NOT NULL,
    source       text NOT NULL,
    mock         boolean NOT NULL,
    battery_pct  smallint,
    zone         text NOT NULL,
    flags        smallint NOT NULL,          -- bit 0 mock location, bit 1 implausible speed
    counted      boolean NOT NULL,           -- counted towards the monitoring window
    PRIMARY KEY (device_id, seq)
);
CREATE INDEX fixes_person_time ON fixes (person_id, recorded_at);

-- Deregistrations: at most one per registration, which makes the scheduler
-- idempotent even if it runs twice, or in two processes at once.
CREATE TABLE deregistrations (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    registration_id bigint NOT NULL REFERENCES registrations(id),
    person_id       bigint NOT NULL REFERENCES persons(id),
    reason          text NOT NULL,
    effective_at    timestamptz NOT NULL,
    decided_at      timestamptz NOT NULL,
    decided_by      text NOT NULL,
    evidence        jsonb NOT NULL,
    rule_version    text NOT NULL,
    CONSTRAINT deregistrations_one_per_registration UNIQUE (registration_id)
);
CREATE INDEX deregistrations_person ON deregistrations (person_id);

-- The person's history as the console and the person will see it.
CREATE TABLE person_events (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id bigint NOT NULL REFERENCES persons(id),
    at        timestamptz NOT NULL,
    kind      text NOT NULL,
    actor     text NOT NULL,
    detail    jsonb NOT NULL
);
CREATE INDEX person_events_person ON person_events (person_id, at);
