-- The officers' console, PostgreSQL flavour; mirrors
-- migrations/sqlite/0005_console.sql table for table.

CREATE TABLE console_accounts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text NOT NULL UNIQUE,
    role            text NOT NULL CHECK (role IN ('enrolment_operator', 'migration_officer',
                        'police_officer', 'supervisor', 'auditor', 'admin')),
    password_hash   text NOT NULL,
    totp_secret     text NOT NULL,
    totp_last_step  bigint NOT NULL DEFAULT 0,
    failed_attempts integer NOT NULL DEFAULT 0,
    locked_until    timestamptz,
    created_at      timestamptz NOT NULL,
    created_by      text NOT NULL,
    disabled_at     timestamptz
);

CREATE TABLE console_sessions (
    id_hash      bytea PRIMARY KEY,
    account_id   bigint NOT NULL REFERENCES console_accounts(id),
    csrf_token   text NOT NULL,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    ended_at     timestamptz
);
CREATE INDEX console_sessions_account ON console_sessions (account_id);

-- Append-only, hash-chained (see the SQLite migration). Appends are
-- serialised by a transaction-level advisory lock (PostgresStore), so ids
-- are gapless and each row links to the one before it.
CREATE TABLE audit_log (
    id          bigint PRIMARY KEY,
    at          timestamptz NOT NULL,
    actor       text NOT NULL,
    role        text NOT NULL,
    action      text NOT NULL,
    subject     text NOT NULL,
    case_id     bigint,
    legal_basis text,
    detail      text NOT NULL,
    prev_hash   text NOT NULL,
    hash        text NOT NULL
);
CREATE INDEX audit_log_actor ON audit_log (actor, id);
CREATE INDEX audit_log_subject ON audit_log (subject, id);
CREATE INDEX audit_log_action ON audit_log (action, id);
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

CREATE TABLE person_name_keys (
    card_number     text PRIMARY KEY REFERENCES cards(number),
    skeleton        text NOT NULL,
    card_updated_at timestamptz NOT NULL
);
CREATE INDEX person_name_keys_updated ON person_name_keys (card_updated_at);
CREATE INDEX cards_updated ON cards (updated_at);

CREATE TABLE cases (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id   bigint NOT NULL REFERENCES persons(id),
    opened_by   text NOT NULL,
    opened_at   timestamptz NOT NULL,
    legal_basis text NOT NULL,
    purpose     text NOT NULL,
    expires_at  timestamptz NOT NULL,
    closed_at   timestamptz,
    closed_by   text
);
CREATE INDEX cases_person ON cases (person_id);

CREATE TABLE registry_entries (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id          bigint NOT NULL REFERENCES persons(id),
    deregistration_id  bigint NOT NULL UNIQUE REFERENCES deregistrations(id),
    proposed_at        timestamptz NOT NULL,
    evidence           jsonb NOT NULL,
    status             text NOT NULL DEFAULT 'proposed'
                       CHECK (status IN ('proposed', 'included', 'rejected', 'removed')),
    decided_by         text,
    decided_at         timestamptz,
    decision_reason    text,
    removed_by         text,
    removed_at         timestamptz,
    removal_reason     text
);
CREATE INDEX registry_entries_status ON registry_entries (status, proposed_at);
