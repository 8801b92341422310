-- Retention: raw fixes older than the configured period are reduced to one
-- row per person and Moscow day (amina_domain::retention). No coordinates.
CREATE TABLE daily_presence (
    person_id       INTEGER NOT NULL REFERENCES persons(id),
    day             TEXT NOT NULL,              -- Moscow day, YYYY-MM-DD
    first_at        INTEGER NOT NULL,
    last_at         INTEGER NOT NULL,
    fix_count       INTEGER NOT NULL,
    flagged_count   INTEGER NOT NULL,
    counted_count   INTEGER NOT NULL,
    in_region_count INTEGER NOT NULL,
    zones           TEXT NOT NULL,              -- JSON {zone slug: fixes}
    reduced_at      INTEGER NOT NULL,
    PRIMARY KEY (person_id, day)
);

-- One row per committed reduction batch: what `amina retention verify`
-- checks the summaries against (fixes removed = fixes summarised).
CREATE TABLE retention_runs (
    id            INTEGER PRIMARY KEY,
    at            INTEGER NOT NULL,
    cutoff        INTEGER NOT NULL,
    persons       INTEGER NOT NULL,
    days          INTEGER NOT NULL,
    fixes_removed INTEGER NOT NULL
);

-- Spot checks: a police officer's area (a district, or a point and radius)
-- with a legal basis, purpose and expiry like a case; one outcome per person.
CREATE TABLE spot_checks (
    id          INTEGER PRIMARY KEY,
    opened_by   TEXT NOT NULL,
    opened_at   INTEGER NOT NULL,
    legal_basis TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    closed_at   INTEGER,
    district    TEXT,
    lat         REAL,
    lon         REAL,
    radius_m    REAL,
    CHECK ((district IS NULL) <> (lat IS NULL))
);
CREATE INDEX spot_checks_officer ON spot_checks (opened_by, id);

CREATE TABLE spot_check_outcomes (
    spot_check_id INTEGER NOT NULL REFERENCES spot_checks(id),
    person_id     INTEGER NOT NULL REFERENCES persons(id),
    outcome       TEXT NOT NULL CHECK (outcome IN ('in_order', 'violation', 'not_found', 'other')),
    note          TEXT,
    recorded_at   INTEGER NOT NULL,
    recorded_by   TEXT NOT NULL,
    PRIMARY KEY (spot_check_id, person_id)
);

-- Districts: the address register's municipality of the notice in force.
CREATE INDEX addresses_municipality ON addresses (municipality);
CREATE INDEX stay_notices_current_person ON stay_notices (person_id) WHERE superseded_at IS NULL;
