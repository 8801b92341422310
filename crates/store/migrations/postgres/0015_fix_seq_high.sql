-- The highest sequence number stored for each device, so that most batches
-- need not look for their fixes in every day partition.
--
-- Why: idempotency by (device, seq) is exact across day partitions because
-- ingest reads, under the person's row lock, the fixes already stored under
-- the batch's seqs from every partition (0012_fix_partitions.sql). That
-- read probes one index per partition for every fix, and it was the most
-- expensive statement of a batch. A phone numbers its fixes upwards, so a
-- new fix's seq is almost always above every seq stored for its device: if
-- the store knows that bound, nothing can be stored under the seq, and the
-- read is skipped. Only retries and reused seqs (at or below the bound) are
-- still looked up.
--
-- The invariant: every fix stored for a device has seq <= devices.seq_high;
-- NULL means "not known" and every seq is looked up. It is kept by the
-- statement trigger below, whoever inserts into fixes (ingest, an older
-- server still running during an upgrade, a test behind the store's back),
-- so it never depends on the inserting code. Fixes are only ever inserted
-- through the partitioned table fixes; the partition function moves rows
-- from the default partition into a new one directly, but those rows were
-- counted when they were first inserted. Deleting fixes (retention) leaves
-- the bound above every remaining seq, which is all the invariant says.
--
-- Devices that exist now start as NULL: finding their bound would read every
-- stored fix here, in the migration's transaction. Ingest learns a device's
-- bound the first time it stores a batch for it (under the person's lock,
-- max(seq) over the partitions' indexes). Devices bound from now on start
-- at 0: they have no fixes.
ALTER TABLE devices ADD COLUMN seq_high bigint;
ALTER TABLE devices ALTER COLUMN seq_high SET DEFAULT 0;

-- One UPDATE per INSERT statement (a whole group of batches), not per row.
-- A device whose bound is NULL keeps it NULL (NULL < x is not true).
CREATE FUNCTION amina_fixes_seq_high() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE devices AS d SET seq_high = n.seq_high
    FROM (SELECT device_id, max(seq) AS seq_high FROM inserted GROUP BY device_id) AS n
    WHERE d.id = n.device_id AND d.seq_high < n.seq_high;
    RETURN NULL;
END
$$;

CREATE TRIGGER fixes_seq_high AFTER INSERT ON fixes
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION amina_fixes_seq_high();
