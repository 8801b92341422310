-- The daily detection job: what it keeps per person between runs (the last
-- days' features and nights' locations, amina_domain::detection::daily), and
-- an index to find the people who reported since a given instant.
-- Mirrors migrations/sqlite/0006_detection.sql.
CREATE TABLE detection_history (
    person_id  bigint PRIMARY KEY REFERENCES persons(id),
    last_day   date NOT NULL,
    history    jsonb NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX persons_last_monitoring ON persons (last_monitoring_at);
