-- The federal migration system (amina_store::integration). Mirrors
-- migrations/sqlite/0008_integration.sql; conventions as in 0001_spine.sql.

-- Every accepted inbound event, once per (sender, event id).
CREATE TABLE integration_events (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sender       text NOT NULL,
    event_id     text NOT NULL,
    kind         text NOT NULL,
    card_number  text NOT NULL,
    occurred_at  timestamptz NOT NULL,
    received_at  timestamptz NOT NULL,
    event        jsonb NOT NULL,
    digest       text NOT NULL,
    status       text NOT NULL CHECK (status IN ('applied', 'no_change', 'unknown_person')),
    outcome      text NOT NULL,
    person_id    bigint REFERENCES persons(id),
    decided_at   timestamptz NOT NULL,
    replays      integer NOT NULL DEFAULT 0,
    CONSTRAINT integration_events_once UNIQUE (sender, event_id)
);
CREATE INDEX integration_events_status ON integration_events (status, id);
CREATE INDEX integration_events_person ON integration_events (person_id, kind, occurred_at);

-- Deliveries refused for their content, from an authenticated sender.
CREATE TABLE integration_rejections (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sender      text NOT NULL,
    event_id    text,
    received_at timestamptz NOT NULL,
    error       text NOT NULL,
    message     text NOT NULL
);
CREATE INDEX integration_rejections_sender ON integration_rejections (sender, id);

-- The outbound feed (transactional outbox). Rows are written with the
-- change; publishing assigns positions under the row lock of
-- integration_feed_head, one publisher at a time, to committed rows only:
-- a reader's cursor can never pass a row that commits later.
CREATE TABLE integration_feed (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    position     bigint UNIQUE,
    kind         text NOT NULL CHECK (kind IN ('registration', 'place_of_stay', 'deregistration')),
    person_id    bigint NOT NULL REFERENCES persons(id),
    card_number  text NOT NULL,
    occurred_at  timestamptz NOT NULL,
    payload      jsonb NOT NULL,
    created_at   timestamptz NOT NULL,
    published_at timestamptz
);
CREATE INDEX integration_feed_unpublished ON integration_feed (id) WHERE position IS NULL;

CREATE TABLE integration_feed_head (
    id            integer PRIMARY KEY CHECK (id = 1),
    last_position bigint NOT NULL
);
INSERT INTO integration_feed_head (id, last_position) VALUES (1, 0);

-- Card history: a reissued card's old number still finds its person.
CREATE TABLE person_cards (
    card_number  text PRIMARY KEY,
    person_id    bigint NOT NULL REFERENCES persons(id),
    replaced_at  timestamptz NOT NULL,
    replaced_by  text NOT NULL
);
ALTER TABLE persons ADD COLUMN card_changed_at timestamptz;

ALTER TABLE cards ADD COLUMN invalidated_at timestamptz;

-- The departure (presence_since) the "outside too long" sweep has handled.
ALTER TABLE persons ADD COLUMN outside_noticed_since timestamptz;

CREATE INDEX persons_outside ON persons (presence_since)
    WHERE status = 'registered' AND presence = 'outside';
