-- What a report tells about why data may go missing (issue 6), SQLite
-- flavour: whether the phone was charging (OwnTracks `bs`, the Battery
-- Status API), its network (OwnTracks `conn`), and which client reported.
-- A long silence after a report on a nearly empty, unplugged battery or
-- without network is explained to the person by that circumstance; a
-- client that reports by itself (OwnTracks) is never told to "open the
-- app". Rows written before this migration came from the web app or from
-- OwnTracks without these fields; they keep NULL circumstances and are
-- marked as the web app's unless their device is an OwnTracks device.
ALTER TABLE checkins ADD COLUMN charging INTEGER CHECK (charging IN (0, 1));
ALTER TABLE checkins ADD COLUMN network TEXT CHECK (network IN ('wifi', 'mobile', 'offline'));
ALTER TABLE checkins ADD COLUMN client TEXT NOT NULL DEFAULT 'app'
    CHECK (client IN ('app', 'owntracks'));
UPDATE checkins SET client = 'owntracks'
 WHERE device_id IN (SELECT id FROM devices WHERE kind = 'owntracks');
