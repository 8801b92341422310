-- Place of stay: the address register, the person's notices, and one-time
-- enrolment codes (amina_domain::stay, amina_domain::enrolment_code).
-- Conventions as in 0001_spine.sql.

-- The address register, imported from an export modelled on the federal
-- address register (GAR); see docs/import.md. Entries are updated by later
-- imports but never deleted: notices refer to them.
CREATE TABLE addresses (
    id           TEXT PRIMARY KEY,           -- the register's object id
    region       TEXT NOT NULL,              -- ISO 3166-2, e.g. RU-MOW
    municipality TEXT NOT NULL,
    street       TEXT NOT NULL,
    house        TEXT NOT NULL,
    flat         TEXT,
    residential  INTEGER NOT NULL,
    lat          REAL NOT NULL,
    lon          REAL NOT NULL,
    search_text  TEXT NOT NULL,              -- amina_domain::stay::search_text
    imported_at  INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);

-- Place-of-stay notices. A notice is never changed except to be closed by
-- the one that supersedes it; at most one per registration is in force.
CREATE TABLE stay_notices (
    id              INTEGER PRIMARY KEY,
    person_id       INTEGER NOT NULL REFERENCES persons(id),
    registration_id INTEGER NOT NULL REFERENCES registrations(id),
    address_id      TEXT NOT NULL REFERENCES addresses(id),
    date_from       TEXT NOT NULL,
    host_name       TEXT,
    submitted_at    INTEGER NOT NULL,
    superseded_at   INTEGER,
    superseded_by   INTEGER REFERENCES stay_notices(id)
);
CREATE INDEX stay_notices_person ON stay_notices (person_id, id);
-- Who is notified at an address: the input of fictitious-address review.
CREATE INDEX stay_notices_address ON stay_notices (address_id) WHERE superseded_at IS NULL;
CREATE UNIQUE INDEX stay_notices_one_current ON stay_notices (registration_id)
    WHERE superseded_at IS NULL;

-- One-time enrolment codes issued by migration-centre operators. Only the
-- SHA-256 of the code is kept. A code is used once (used_at), or replaced
-- by a newer code for the same card (superseded_at), or expires.
CREATE TABLE enrolment_codes (
    code_hash     BLOB PRIMARY KEY,
    card_number   TEXT NOT NULL REFERENCES cards(number),
    issued_at     INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    issued_by     TEXT NOT NULL,
    used_at       INTEGER,
    used_by_person INTEGER REFERENCES persons(id),
    superseded_at INTEGER
);
CREATE INDEX enrolment_codes_open ON enrolment_codes (card_number)
    WHERE used_at IS NULL AND superseded_at IS NULL;
