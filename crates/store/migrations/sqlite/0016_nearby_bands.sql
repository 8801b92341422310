-- The console's "people near a point" query, on SQLite.
--
-- The index of 0012 on (trusted_lat, trusted_lon) narrows by latitude
-- only: a 1 km box reads every indexed person in a 1 km band of latitude
-- across the whole map (about 55,000 entries in Moscow at 3 million people)
-- to find the 2,000 or so inside the box. Here the first key is the
-- latitude cut into bands of a thousandth of a degree (111 m), so the query
-- seeks once per band of its box and reads only the box's longitudes in
-- each (about 10 seeks and 2,000 entries). The exact latitude is part of the
-- key too: the first pass reads (id, latitude, longitude) from the index
-- alone, without a table lookup per person.
--
-- It replaces the 0012 index rather than adding one: a trusted fix updates
-- one index entry, as before. The query must spell the band expression
-- exactly as below for SQLite to use the index (see `nearby` in
-- src/sqlite/console.rs).
DROP INDEX persons_trusted_lat_lon;
CREATE INDEX persons_trusted_band
    ON persons (CAST(trusted_lat * 1000 AS INTEGER), trusted_lon, trusted_lat)
    WHERE trusted_lat IS NOT NULL;
