-- The console's "people near a point" query. Both backends apply migrations
-- of the same names; the change of this one is on SQLite (an index of
-- latitude bands, see migrations/sqlite/0016_nearby_bands.sql). PostgreSQL
-- keeps its GiST index on trusted_position, which the query now walks
-- nearest first (a KNN scan, `ORDER BY trusted_position <-> point`) instead
-- of reading every person in the circle and sorting them.
COMMENT ON INDEX persons_trusted_position IS
    'console nearby query: ST_DWithin box and nearest-first (<->) scan';
