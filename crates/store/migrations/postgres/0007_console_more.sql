-- Retention: raw fixes older than the configured period are reduced to one
-- row per person and Moscow day (amina_domain::retention). No coordinates.
CREATE TABLE daily_presence (
    person_id       bigint NOT NULL REFERENCES persons(id),
    day             date NOT NULL,              -- Moscow day
    first_at        timestamptz NOT NULL,
    last_at         timestamptz NOT NULL,
    fix_count       bigint NOT NULL,
    flagged_count   bigint NOT NULL,
    counted_count   bigint NOT NULL,
    in_region_count bigint NOT NULL,
    zones           jsonb NOT NULL,             -- {zone slug: fixes}
    reduced_at      timestamptz NOT NULL,
    PRIMARY KEY (person_id, day)
);

-- One row per committed reduction batch: what `amina retention verify`
-- checks the summaries against (fixes removed = fixes summarised).
CREATE TABLE retention_runs (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at            timestamptz NOT NULL,
    cutoff        timestamptz NOT NULL,
    persons       bigint NOT NULL,
    days          bigint NOT NULL,
    fixes_removed bigint NOT NULL
);

-- Spot checks: a police officer's area (a district, or a point and radius)
-- with a legal basis, purpose and expiry like a case; one outcome per person.
CREATE TABLE spot_checks (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    opened_by   text NOT NULL,
    opened_at   timestamptz NOT NULL,
    legal_basis text NOT NULL,
    purpose     text NOT NULL,
    expires_at  timestamptz NOT NULL,
    closed_at   timestamptz,
    district    text,
    lat         double precision,
    lon         double precision,
    radius_m    double precision,
    CHECK ((district IS NULL) <> (lat IS NULL))
);
CREATE INDEX spot_checks_officer ON spot_checks (opened_by, id);

CREATE TABLE spot_check_outcomes (
    spot_check_id bigint NOT NULL REFERENCES spot_checks(id),
    person_id     bigint NOT NULL REFERENCES persons(id),
    outcome       text NOT NULL CHECK (outcome IN ('in_order', 'violation', 'not_found', 'other')),
    note          text,
    recorded_at   timestamptz NOT NULL,
    recorded_by   text NOT NULL,
    PRIMARY KEY (spot_check_id, person_id)
);

-- Districts: the address register's municipality of the notice in force.
CREATE INDEX addresses_municipality ON addresses (municipality);
CREATE INDEX stay_notices_current_person ON stay_notices (person_id) WHERE superseded_at IS NULL;
