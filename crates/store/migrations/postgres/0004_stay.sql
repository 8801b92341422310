-- Place of stay: the address register, the person's notices, and one-time
-- enrolment codes. Mirrors migrations/sqlite/0004_stay.sql; conventions as
-- in 0001_spine.sql.

-- The address register (GAR-like export, docs/import.md). Entries are
-- updated by later imports but never deleted: notices refer to them.
-- `position` is derived from lat/lon for PostGIS queries (who sleeps
-- where the phones say), kept in step by every write.
CREATE TABLE addresses (
    id           text PRIMARY KEY,
    region       text NOT NULL,
    municipality text NOT NULL,
    street       text NOT NULL,
    house        text NOT NULL,
    flat         text,
    residential  boolean NOT NULL,
    lat          double precision NOT NULL,
    lon          double precision NOT NULL,
    position     geography(Point, 4326) NOT NULL,
    search_text  text NOT NULL,
    imported_at  timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE INDEX addresses_position ON addresses USING gist (position);

-- Place-of-stay notices; at most one per registration is in force. A
-- notice is decided while holding the person's row lock.
CREATE TABLE stay_notices (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id       bigint NOT NULL REFERENCES persons(id),
    registration_id bigint NOT NULL REFERENCES registrations(id),
    address_id      text NOT NULL REFERENCES addresses(id),
    date_from       date NOT NULL,
    host_name       text,
    submitted_at    timestamptz NOT NULL,
    superseded_at   timestamptz,
    superseded_by   bigint REFERENCES stay_notices(id)
);
CREATE INDEX stay_notices_person ON stay_notices (person_id, id);
CREATE INDEX stay_notices_address ON stay_notices (address_id) WHERE superseded_at IS NULL;
CREATE UNIQUE INDEX stay_notices_one_current ON stay_notices (registration_id)
    WHERE superseded_at IS NULL;

-- One-time enrolment codes; only the SHA-256 of the code is kept. Using a
-- code locks its row, so it is used once even by two phones at once.
CREATE TABLE enrolment_codes (
    code_hash      bytea PRIMARY KEY,
    card_number    text NOT NULL REFERENCES cards(number),
    issued_at      timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    issued_by      text NOT NULL,
    used_at        timestamptz,
    used_by_person bigint REFERENCES persons(id),
    superseded_at  timestamptz
);
CREATE INDEX enrolment_codes_open ON enrolment_codes (card_number)
    WHERE used_at IS NULL AND superseded_at IS NULL;
