-- Signals for human review (amina_domain::signal) and their review history.
-- Mirrors migrations/sqlite/0002_signals.sql. `subject` is 'person:<id>' or
-- 'address:<register id>' so that one unique constraint says "raised once
-- per (kind, subject, occurrence)".
CREATE TABLE signals (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            text NOT NULL,
    subject         text NOT NULL,
    person_id       bigint REFERENCES persons(id),
    address_id      text,
    dedup_key       text NOT NULL,
    raised_at       timestamptz NOT NULL,
    score           double precision,
    explanation     text NOT NULL,
    evidence        jsonb NOT NULL,
    status          text NOT NULL DEFAULT 'open'
                    CHECK (status IN ('open', 'in_review', 'dismissed', 'confirmed')),
    assigned_to     text,
    updated_at      timestamptz NOT NULL,
    decided_by      text,
    decision_reason text,
    CHECK ((person_id IS NULL) <> (address_id IS NULL)),
    CONSTRAINT signals_once UNIQUE (kind, subject, dedup_key)
);
CREATE INDEX signals_person ON signals (person_id, raised_at) WHERE person_id IS NOT NULL;
CREATE INDEX signals_queue ON signals (status, raised_at);

-- Every review step, never updated.
CREATE TABLE signal_reviews (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    signal_id   bigint NOT NULL REFERENCES signals(id),
    at          timestamptz NOT NULL,
    actor       text NOT NULL,
    from_status text NOT NULL,
    to_status   text NOT NULL,
    reason      text
);
CREATE INDEX signal_reviews_signal ON signal_reviews (signal_id);
