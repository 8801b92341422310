-- OwnTracks as a reporting device (issue 6), SQLite flavour.
--
-- An OwnTracks device is a row in `devices` like any other, with
-- kind = 'owntracks', so the rules that hold for every device hold for it:
-- at most one active device per person, rebinding revokes and is recorded,
-- fixes are keyed by (device, seq). It has no P-256 key: `public_key` is
-- empty and `key_thumbprint` is 'owntracks:<device id>' (unique, never a
-- real RFC 7638 thumbprint, which is base64url without a colon).

-- The PWA key that provisioned the OwnTracks device keeps reading the
-- person's own data (status, notices, my data, push, check-ins) while the
-- OwnTracks device is the active one: its row is revoked for reporting and
-- names the device it accompanies. The link is honoured only while that
-- device is still active.
ALTER TABLE devices ADD COLUMN companion_of TEXT;

-- The OwnTracks device's credentials. The HTTP Basic secret is 256 random
-- bits, so a SHA-256 of it is enough (nothing to brute-force; a slow hash
-- would cost CPU on every location report). The secretbox key must be
-- retrievable to decrypt payloads: it is stored as the key string OwnTracks
-- holds (32 ASCII characters, used as the 32 key bytes).
CREATE TABLE owntracks_credentials (
    device_id     TEXT PRIMARY KEY REFERENCES devices(id),
    secret_sha256 BLOB NOT NULL,
    secretbox_key TEXT NOT NULL,
    tid           TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);
