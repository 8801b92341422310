-- Web Push and the daily check-in (amina_store::push). Mirrors
-- migrations/sqlite/0003_push.sql; conventions as in 0001_spine.sql.
--
-- Concurrency: several nodes plan and send. Planning takes due subscription
-- rows with FOR UPDATE SKIP LOCKED; the outbox's unique (person_id,
-- occurrence_key) is the last guard against deciding a notice twice;
-- claiming takes pending outbox rows with SKIP LOCKED and leases them by
-- moving next_attempt_at forward.

-- The server's VAPID key pair (RFC 8292): exactly one row, inserted by the
-- first node to start (ON CONFLICT DO NOTHING); every node reads the same.
CREATE TABLE push_vapid (
    id            integer PRIMARY KEY CHECK (id = 1),
    private_pkcs8 bytea NOT NULL,         -- secret: never logged, never served
    public_key    bytea NOT NULL CHECK (length(public_key) = 65),
    created_at    timestamptz NOT NULL
);

-- Every check-in the app sent (opening the app sends one), never updated.
CREATE TABLE checkins (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id           bigint NOT NULL REFERENCES persons(id),
    device_id           text NOT NULL REFERENCES devices(id),
    at                  timestamptz NOT NULL,  -- received by the server
    location_permission text NOT NULL
                        CHECK (location_permission IN ('granted', 'prompt', 'denied', 'unsupported')),
    push_permission     text NOT NULL
                        CHECK (push_permission IN ('granted', 'prompt', 'denied', 'unsupported')),
    queued_fixes        integer NOT NULL CHECK (queued_fixes >= 0),
    geo_error           smallint CHECK (geo_error IN (1, 2, 3)),  -- W3C GeolocationPositionError code
    battery_pct         smallint CHECK (battery_pct BETWEEN 0 AND 100)
);
CREATE INDEX checkins_person ON checkins (person_id, at);

-- The last check-in, on the person: what the push rules read.
ALTER TABLE persons ADD COLUMN last_checkin_id bigint REFERENCES checkins(id);

-- One push subscription per person: the browser of the active device.
-- `next_check_at` is when the push rules must look at the person again; the
-- scheduler reads it through the partial index, never scanning everyone.
CREATE TABLE push_subscriptions (
    person_id     bigint PRIMARY KEY REFERENCES persons(id),
    device_id     text NOT NULL REFERENCES devices(id),
    endpoint      text NOT NULL,
    p256dh        bytea NOT NULL CHECK (length(p256dh) = 65),
    auth          bytea NOT NULL CHECK (length(auth) = 16),
    lang          text NOT NULL,
    status        text NOT NULL CHECK (status IN ('active', 'gone', 'removed')),
    subscribed_at timestamptz NOT NULL,      -- when this endpoint was first stored
    updated_at    timestamptz NOT NULL,
    gone_at       timestamptz,
    next_check_at timestamptz
);
CREATE INDEX push_subscriptions_due ON push_subscriptions (next_check_at) WHERE status = 'active';

-- Decided notices: one per (person, occurrence key), so a notice is never
-- decided twice. Sending leases a row by moving next_attempt_at forward.
CREATE TABLE push_outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id       bigint NOT NULL REFERENCES persons(id),
    occurrence_key  text NOT NULL,
    kind            text NOT NULL,
    notice          jsonb NOT NULL,          -- amina_domain::reminders::Notice
    decided_at      timestamptz NOT NULL,
    state           text NOT NULL
                    CHECK (state IN ('pending', 'sent', 'gone', 'failed', 'dropped')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    last_status     integer,
    sent_at         timestamptz,
    CONSTRAINT push_outbox_once UNIQUE (person_id, occurrence_key)
);
CREATE INDEX push_outbox_due ON push_outbox (next_attempt_at) WHERE state = 'pending';

-- Every attempt to deliver a notice, never updated.
CREATE TABLE push_deliveries (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    outbox_id   bigint NOT NULL REFERENCES push_outbox(id),
    at          timestamptz NOT NULL,
    status_code integer,                     -- NULL: no answer (transport error)
    error       text
);
CREATE INDEX push_deliveries_outbox ON push_deliveries (outbox_id);
