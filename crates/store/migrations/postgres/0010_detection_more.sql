-- The rest of the daily detection job (amina_server::detection_job).
-- Mirrors migrations/sqlite/0010_detection_more.sql; see the comments there.
--
-- Address-level signals need no change to `signals`: a signal is about a
-- person (person_id) or an address (address_id), exactly one of them
-- (0002_signals.sql). A host party's `address_disputed` signal is about the
-- person; the disputed address id is in its evidence (`address_id`).

ALTER TABLE signals ADD COLUMN anomaly_score double precision;
ALTER TABLE signals ADD COLUMN anomaly_top jsonb;
CREATE INDEX signals_ranked ON signals (status, anomaly_score DESC NULLS LAST);
CREATE INDEX signals_disputes ON signals (kind, status) WHERE kind = 'address_disputed';

CREATE TABLE detection_homes (
    person_id  bigint PRIMARY KEY REFERENCES persons(id),
    address_id text NOT NULL REFERENCES addresses(id),
    day        date NOT NULL,
    verdict    text NOT NULL CHECK (verdict IN ('unknown', 'at_address', 'elsewhere')),
    distance_m double precision,
    score      double precision,
    updated_at timestamptz NOT NULL
);
CREATE INDEX detection_homes_address ON detection_homes (address_id);

CREATE TABLE detection_models (
    day            date PRIMARY KEY,
    model          jsonb NOT NULL,
    reference_days integer NOT NULL,
    created_at     timestamptz NOT NULL
);

CREATE TABLE revoked_device_uploads (
    device_id text NOT NULL REFERENCES devices(id),
    day       date NOT NULL,
    person_id bigint NOT NULL REFERENCES persons(id),
    attempts  bigint NOT NULL,
    first_at  timestamptz NOT NULL,
    last_at   timestamptz NOT NULL,
    PRIMARY KEY (device_id, day)
);
CREATE INDEX revoked_device_uploads_day ON revoked_device_uploads (day);

CREATE INDEX devices_bound ON devices (bound_at);
CREATE INDEX push_subscriptions_gone ON push_subscriptions (gone_at) WHERE status = 'gone';
