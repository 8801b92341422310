-- The federal migration system (amina_store::integration): inbound events,
-- refused deliveries, the outbound feed (a transactional outbox), card
-- history and the "outside too long" sweep. Conventions as in 0001_spine.sql.

-- Every accepted inbound event, once per (sender, event id): a repeated
-- delivery finds its row and changes nothing. `event` is the parsed event
-- (JSON amina_domain::integration::InboundEvent), kept for replay;
-- `digest` tells a repeat from an id reused for different content.
CREATE TABLE integration_events (
    id           INTEGER PRIMARY KEY,
    sender       TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    kind         TEXT NOT NULL,
    card_number  TEXT NOT NULL,
    occurred_at  INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,
    event        TEXT NOT NULL,
    digest       TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('applied', 'no_change', 'unknown_person')),
    outcome      TEXT NOT NULL,                 -- amina_domain::integration::Outcome code
    person_id    INTEGER REFERENCES persons(id),
    decided_at   INTEGER NOT NULL,              -- first decision or last replay
    replays      INTEGER NOT NULL DEFAULT 0,
    UNIQUE (sender, event_id)
);
CREATE INDEX integration_events_status ON integration_events (status, id);
CREATE INDEX integration_events_person ON integration_events (person_id, kind, occurred_at);

-- Deliveries refused for their content (unknown type, bad field, date
-- outside the calendar, id reused) from an authenticated sender, so the
-- sender and officers can see why. Unsigned requests are not stored.
CREATE TABLE integration_rejections (
    id          INTEGER PRIMARY KEY,
    sender      TEXT NOT NULL,
    event_id    TEXT,                           -- as sent, when readable
    received_at INTEGER NOT NULL,
    error       TEXT NOT NULL,                  -- machine-readable code
    message     TEXT NOT NULL
);
CREATE INDEX integration_rejections_sender ON integration_rejections (sender, id);

-- The outbound feed. A change (registration, place of stay,
-- deregistration) writes its row in the same transaction as the change
-- (position NULL). Publishing gives committed rows their feed position in
-- one serialised step, so positions grow in the order readers can see
-- them and a cursor never skips a row that commits late.
CREATE TABLE integration_feed (
    id           INTEGER PRIMARY KEY,
    position     INTEGER UNIQUE,                -- NULL until published
    kind         TEXT NOT NULL CHECK (kind IN ('registration', 'place_of_stay', 'deregistration')),
    person_id    INTEGER NOT NULL REFERENCES persons(id),
    card_number  TEXT NOT NULL,
    occurred_at  INTEGER NOT NULL,
    payload      TEXT NOT NULL,                 -- JSON, the entry's details
    created_at   INTEGER NOT NULL,
    published_at INTEGER
);
CREATE INDEX integration_feed_unpublished ON integration_feed (id) WHERE position IS NULL;

-- Card history: a reissued card's old number still finds its person.
CREATE TABLE person_cards (
    card_number  TEXT PRIMARY KEY,
    person_id    INTEGER NOT NULL REFERENCES persons(id),
    replaced_at  INTEGER NOT NULL,              -- when the federal system reissued it
    replaced_by  TEXT NOT NULL
);
ALTER TABLE persons ADD COLUMN card_changed_at INTEGER;

-- A card the federal system declared invalid cannot enrol again.
ALTER TABLE cards ADD COLUMN invalidated_at INTEGER;

-- The departure (presence_since) the "outside too long" sweep has handled.
ALTER TABLE persons ADD COLUMN outside_noticed_since INTEGER;

-- The "outside too long" sweep reads only registered people outside.
CREATE INDEX persons_outside ON persons (presence_since)
    WHERE status = 'registered' AND presence = 'outside';
