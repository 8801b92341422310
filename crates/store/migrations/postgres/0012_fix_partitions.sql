-- Fixes partitioned by Moscow day (native declarative partitioning).
--
-- Why: at the pilot's scale (3 million people, a fix every 5 minutes) the
-- fixes table takes several hundred million rows a day. Retention reduces
-- whole days to daily presence summaries; with one partition per Moscow day
-- it can drop a day's table instead of deleting its rows one by one (no
-- dead tuples, no vacuum, no index bloat), and queries with a time range
-- (a person's track for a day, retention's "before the cut-off") read only
-- the partitions of that range.
--
-- Partition key: recorded_at, in ranges [00:00, 24:00) Moscow time, named
-- fixes_YYYYMMDD. recorded_at (not received_at) because retention and the
-- daily summaries are by the Moscow day a fix was recorded on, and the
-- retention cut-off is the start of a Moscow day
-- (amina_domain::retention::cutoff): every day partition is then either
-- wholly before the cut-off or wholly after it.
--
-- fixes_default (the DEFAULT partition) takes any fix whose day has no
-- partition yet (a device clock far in the past, an offline burst from
-- weeks ago), so an insert never fails for want of a partition. The store
-- creates partitions ahead of time: on migrate and by the scheduler once a
-- day (yesterday to a week ahead), and on demand for the recent days of an
-- incoming batch. Creating a partition moves the default partition's rows
-- of that day into it (amina_fixes_partition below).
--
-- Idempotency by (device, seq) stays exact. A PostgreSQL unique constraint
-- on a partitioned table must contain the partition key, so the key is now
-- (device_id, seq, recorded_at):
-- - a retried fix is the same fix, with the same recorded_at, so it lands
--   in the same partition and this key refuses it there;
-- - a different fix under a seq already used (possibly on another day, in
--   another partition) is not a retry. Ingest never relies on the key for
--   it: every batch first locks the device's person row (SELECT ... FOR
--   UPDATE; all writes of fixes go through that one code path) and, under
--   that lock, reads the fixes already stored under the batch's seqs from
--   all partitions (the key's (device_id, seq) prefix is an index in every
--   partition). The domain then answers "duplicate" (same content) or
--   "sequence reused" (different content) and nothing is inserted for it.
--   Two batches of one device cannot interleave between that read and the
--   insert, because the second waits for the first's row lock.
-- The storage suite checks a retry across a partition boundary.
--
-- Existing data: the unpartitioned table is renamed, the partitioned one is
-- created with the same columns, a partition is made for every Moscow day
-- the old rows fall on, the rows are copied, and the old table is dropped.
-- All in the migration's one transaction: it is all done or not at all.

ALTER TABLE fixes RENAME TO fixes_unpartitioned;
ALTER INDEX fixes_pkey RENAME TO fixes_unpartitioned_pkey;
ALTER INDEX fixes_person_time RENAME TO fixes_unpartitioned_person_time;

-- The same columns, defaults and checks, whatever earlier migrations added.
CREATE TABLE fixes (LIKE fixes_unpartitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
    PARTITION BY RANGE (recorded_at);
ALTER TABLE fixes ADD CONSTRAINT fixes_pkey PRIMARY KEY (device_id, seq, recorded_at);
CREATE INDEX fixes_person_time ON fixes (person_id, recorded_at);

CREATE TABLE fixes_default PARTITION OF fixes DEFAULT;

-- Make the partition of one Moscow day if it does not exist; true if it was
-- made. Rows of that day already in the default partition move into it.
-- Creators are serialised by an advisory lock (two nodes preparing the same
-- day); the default partition is locked against inserts while its rows of
-- the day move, so none is left behind.
CREATE FUNCTION amina_fixes_partition(day date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    part text := 'fixes_' || to_char(day, 'YYYYMMDD');
    lo timestamptz := day::timestamp AT TIME ZONE 'Europe/Moscow';
    hi timestamptz := (day + 1)::timestamp AT TIME ZONE 'Europe/Moscow';
BEGIN
    IF to_regclass(part) IS NOT NULL THEN
        RETURN false;
    END IF;
    -- "amina" in ASCII, plus one: the migration lock's neighbour.
    PERFORM pg_advisory_xact_lock(418447453794);
    -- Taking a table lock also reads the catalog changes committed since
    -- (a partition another creator just made), so look again after it.
    LOCK TABLE fixes_default IN EXCLUSIVE MODE;
    IF to_regclass(part) IS NOT NULL THEN
        RETURN false;
    END IF;
    EXECUTE format('CREATE TABLE %I (LIKE fixes INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
    EXECUTE format('INSERT INTO %I SELECT * FROM fixes_default '
                   'WHERE recorded_at >= $1 AND recorded_at < $2', part)
        USING lo, hi;
    DELETE FROM fixes_default WHERE recorded_at >= lo AND recorded_at < hi;
    EXECUTE format('ALTER TABLE fixes ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                   part, lo, hi);
    RETURN true;
END
$$;

SELECT amina_fixes_partition(d)
FROM (SELECT DISTINCT (recorded_at AT TIME ZONE 'Europe/Moscow')::date AS d
      FROM fixes_unpartitioned) days
ORDER BY d;

INSERT INTO fixes SELECT * FROM fixes_unpartitioned;
DROP TABLE fixes_unpartitioned;
