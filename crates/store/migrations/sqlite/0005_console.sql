-- The officers' console: accounts, sessions, the audit trail, cases for
-- location access, the registry of controlled persons, and the name index
-- for search. Conventions as in 0001_spine.sql.

-- Local console accounts. Passwords are Argon2id PHC strings; the TOTP
-- secret (RFC 6238, base32) must be readable to check codes.
CREATE TABLE console_accounts (
    id              INTEGER PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    role            TEXT NOT NULL CHECK (role IN ('enrolment_operator', 'migration_officer',
                        'police_officer', 'supervisor', 'auditor', 'admin')),
    password_hash   TEXT NOT NULL,
    totp_secret     TEXT NOT NULL,
    totp_last_step  INTEGER NOT NULL DEFAULT 0, -- last accepted TOTP time step: no replay
    failed_attempts INTEGER NOT NULL DEFAULT 0, -- consecutive failed sign-ins
    locked_until    INTEGER,
    created_at      INTEGER NOT NULL,
    created_by      TEXT NOT NULL,
    disabled_at     INTEGER
);

-- Sign-in sessions. Only the SHA-256 of the session id is kept, so a copy
-- of the database does not let anyone sign in. The CSRF token is bound to
-- the session (synchronizer token).
CREATE TABLE console_sessions (
    id_hash      BLOB PRIMARY KEY,
    account_id   INTEGER NOT NULL REFERENCES console_accounts(id),
    csrf_token   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,              -- absolute expiry
    ended_at     INTEGER
);
CREATE INDEX console_sessions_account ON console_sessions (account_id);

-- The audit trail: append-only and hash-chained. `id` is gapless (the
-- writer assigns last id + 1), `hash` = SHA-256(prev_hash || canonical
-- encoding of the row) (amina_store::audit), so changing, removing or
-- inserting a row breaks the chain at that row. `detail` is the canonical
-- JSON text that was hashed. Triggers refuse UPDATE and DELETE.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    role        TEXT NOT NULL,
    action      TEXT NOT NULL,
    subject     TEXT NOT NULL,
    case_id     INTEGER,
    legal_basis TEXT,
    detail      TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
CREATE INDEX audit_log_actor ON audit_log (actor, id);
CREATE INDEX audit_log_subject ON audit_log (subject, id);
CREATE INDEX audit_log_action ON audit_log (action, id);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

-- Name skeletons for search (amina_domain::names), kept in step with the
-- cards by their updated_at.
CREATE TABLE person_name_keys (
    card_number     TEXT PRIMARY KEY REFERENCES cards(number),
    skeleton        TEXT NOT NULL,
    card_updated_at INTEGER NOT NULL
);
CREATE INDEX person_name_keys_updated ON person_name_keys (card_updated_at);
CREATE INDEX cards_updated ON cards (updated_at);

-- Cases and spot checks: the only way to read a person's location. Each
-- names a legal basis and a purpose and expires.
CREATE TABLE cases (
    id          INTEGER PRIMARY KEY,
    person_id   INTEGER NOT NULL REFERENCES persons(id),
    opened_by   TEXT NOT NULL,
    opened_at   INTEGER NOT NULL,
    legal_basis TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    closed_at   INTEGER,
    closed_by   TEXT
);
CREATE INDEX cases_person ON cases (person_id);

-- The registry of controlled persons: proposals after a no-monitoring
-- deregistration (one per deregistration), decided by a supervisor.
CREATE TABLE registry_entries (
    id                 INTEGER PRIMARY KEY,
    person_id          INTEGER NOT NULL REFERENCES persons(id),
    deregistration_id  INTEGER NOT NULL UNIQUE REFERENCES deregistrations(id),
    proposed_at        INTEGER NOT NULL,
    evidence           TEXT NOT NULL,             -- JSON
    status             TEXT NOT NULL DEFAULT 'proposed'
                       CHECK (status IN ('proposed', 'included', 'rejected', 'removed')),
    decided_by         TEXT,
    decided_at         INTEGER,
    decision_reason    TEXT,
    removed_by         TEXT,
    removed_at         INTEGER,
    removal_reason     TEXT
);
CREATE INDEX registry_entries_status ON registry_entries (status, proposed_at);
