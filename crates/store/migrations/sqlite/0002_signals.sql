-- Signals for human review (amina_domain::signal) and their review history.
-- A signal is about a person or an address; `subject` is 'person:<id>' or
-- 'address:<register id>' so that one unique index says "raised once per
-- (kind, subject, occurrence)".
CREATE TABLE signals (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL,
    subject         TEXT NOT NULL,
    person_id       INTEGER REFERENCES persons(id),
    address_id      TEXT,
    dedup_key       TEXT NOT NULL,
    raised_at       INTEGER NOT NULL,
    score           REAL,
    explanation     TEXT NOT NULL,
    evidence        TEXT NOT NULL,              -- JSON
    status          TEXT NOT NULL DEFAULT 'open'
                    CHECK (status IN ('open', 'in_review', 'dismissed', 'confirmed')),
    assigned_to     TEXT,
    updated_at      INTEGER NOT NULL,
    decided_by      TEXT,
    decision_reason TEXT,
    CHECK ((person_id IS NULL) <> (address_id IS NULL))
);
CREATE UNIQUE INDEX signals_once ON signals (kind, subject, dedup_key);
CREATE INDEX signals_person ON signals (person_id, raised_at) WHERE person_id IS NOT NULL;
CREATE INDEX signals_queue ON signals (status, raised_at);

-- Every review step, never updated.
CREATE TABLE signal_reviews (
    id          INTEGER PRIMARY KEY,
    signal_id   INTEGER NOT NULL REFERENCES signals(id),
    at          INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    from_status TEXT NOT NULL,
    to_status   TEXT NOT NULL,
    reason      TEXT
);
CREATE INDEX signal_reviews_signal ON signal_reviews (signal_id);
