-- The rest of the daily detection job (amina_server::detection_job):
-- the anomaly score that ranks the alerts queue, each person's home verdict
-- against the registered address (the input of fictitious-address review),
-- the anomaly reference model per day, and signed uploads from revoked
-- devices (proofs from two devices). Conventions as in 0001_spine.sql.
--
-- Address-level signals need no change to `signals`: a signal is about a
-- person (person_id) or an address (address_id), exactly one of them
-- (0002_signals.sql). A host party's `address_disputed` signal is about the
-- person; the disputed address id is in its evidence (`address_id`).

-- The person-day's anomaly score (0..1) and its top contributing features
-- (JSON list of {feature, value, z}), for the signals the daily job raises.
-- The queue is listed by this score, highest first; signals without one
-- follow, newest first. The score never raises a signal by itself.
ALTER TABLE signals ADD COLUMN anomaly_score REAL;
ALTER TABLE signals ADD COLUMN anomaly_top TEXT;
CREATE INDEX signals_ranked ON signals (status, anomaly_score);
-- Undecided host-party disputes counted per address.
CREATE INDEX signals_disputes ON signals (kind, status) WHERE kind = 'address_disputed';

-- The latest verdict on a person's inferred home against the address of the
-- notice in force when it was computed: 'unknown' (too few nights or too
-- unsure), 'at_address' or 'elsewhere' (with distance and score).
CREATE TABLE detection_homes (
    person_id  INTEGER PRIMARY KEY REFERENCES persons(id),
    address_id TEXT NOT NULL REFERENCES addresses(id),
    day        TEXT NOT NULL,             -- the day it was computed for
    verdict    TEXT NOT NULL CHECK (verdict IN ('unknown', 'at_address', 'elsewhere')),
    distance_m REAL,
    score      REAL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX detection_homes_address ON detection_homes (address_id);

-- The anomaly model (medians and scales, amina_domain::detection::anomaly)
-- fitted on a sample of one day's person-days; the next day is scored
-- against it.
CREATE TABLE detection_models (
    day            TEXT PRIMARY KEY,      -- YYYY-MM-DD
    model          TEXT NOT NULL,         -- JSON
    reference_days INTEGER NOT NULL,
    created_at     INTEGER NOT NULL
);

-- Uploads whose signature verified with the key of a device that had been
-- revoked: the old phone is still reporting next to the new one. One row
-- per device and Moscow day, counting attempts, so a retrying phone costs
-- one row a day.
CREATE TABLE revoked_device_uploads (
    device_id TEXT NOT NULL REFERENCES devices(id),
    day       TEXT NOT NULL,              -- Moscow day, YYYY-MM-DD
    person_id INTEGER NOT NULL REFERENCES persons(id),
    attempts  INTEGER NOT NULL,
    first_at  INTEGER NOT NULL,
    last_at   INTEGER NOT NULL,
    PRIMARY KEY (device_id, day)
);
CREATE INDEX revoked_device_uploads_day ON revoked_device_uploads (day);

-- Device churn: bindings in a recent window.
CREATE INDEX devices_bound ON devices (bound_at);
-- App probably removed: subscriptions the push service reported gone.
CREATE INDEX push_subscriptions_gone ON push_subscriptions (gone_at) WHERE status = 'gone';
