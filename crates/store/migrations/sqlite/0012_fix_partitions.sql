-- PostgreSQL partitions fixes by Moscow day in this migration; SQLite, the
-- embedded store for one machine, keeps one fixes table and deletes reduced
-- rows (see the retention code).
--
-- What SQLite gets here: an index for the console's "people near a point"
-- query. SQLite has no spatial index in this build; the query filters a
-- bounding box on the last trusted latitude and longitude first, and
-- without an index that box is a scan of every person.
CREATE INDEX persons_trusted_lat_lon ON persons (trusted_lat, trusted_lon)
    WHERE trusted_lat IS NOT NULL;
