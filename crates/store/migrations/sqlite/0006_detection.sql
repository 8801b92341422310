-- The daily detection job: what it keeps per person between runs (the last
-- days' features and nights' locations, amina_domain::detection::daily), and
-- an index to find the people who reported since a given instant.
CREATE TABLE detection_history (
    person_id  INTEGER PRIMARY KEY REFERENCES persons(id),
    last_day   TEXT NOT NULL,            -- the last day processed, YYYY-MM-DD
    history    TEXT NOT NULL,            -- JSON
    updated_at INTEGER NOT NULL
);
CREATE INDEX persons_last_monitoring ON persons (last_monitoring_at);
