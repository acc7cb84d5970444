-- What the admin pages need to answer fast over a year of call records.
--
-- call_record_days: per UTC day of started_at, how many records there are and a version
-- bumped by every write to a record of that day (insert, update, delete). Report caches
-- key each day's aggregates on it, so new or changed records recompute only their days;
-- the call list sums it for its unfiltered record count instead of counting rows.
-- Kept by statement-level triggers (one upsert per day touched, not per row) so every
-- writer (PBX, CLI, generator, tests) keeps it right. Every UPDATE counts (PostgreSQL
-- allows no column list on triggers with transition tables); SQLite's trigger is per row
-- and so fires only for the columns billing reads.
CREATE TABLE call_record_days (
    day DATE PRIMARY KEY,
    records BIGINT NOT NULL,
    version BIGINT NOT NULL
);

INSERT INTO call_record_days (day, records, version)
    SELECT (started_at AT TIME ZONE 'UTC')::date, COUNT(*), 1 FROM call_records GROUP BY 1;

-- Each function adds the records per day its statement touched (negative for removals)
-- and bumps those days' versions; days in date order so concurrent writers lock alike.
CREATE FUNCTION call_record_days_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO call_record_days (day, records, version)
        SELECT (started_at AT TIME ZONE 'UTC')::date, COUNT(*), 1 FROM new_rows
        GROUP BY 1 ORDER BY 1
        ON CONFLICT (day) DO UPDATE
            SET records = call_record_days.records + EXCLUDED.records,
                version = call_record_days.version + 1;
    RETURN NULL;
END $$;

CREATE FUNCTION call_record_days_after_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO call_record_days (day, records, version)
        SELECT (started_at AT TIME ZONE 'UTC')::date, -COUNT(*), 1 FROM old_rows
        GROUP BY 1 ORDER BY 1
        ON CONFLICT (day) DO UPDATE
            SET records = call_record_days.records + EXCLUDED.records,
                version = call_record_days.version + 1;
    RETURN NULL;
END $$;

CREATE FUNCTION call_record_days_after_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO call_record_days (day, records, version)
        SELECT d, SUM(n), 1 FROM (
            SELECT (started_at AT TIME ZONE 'UTC')::date AS d, 1 AS n FROM new_rows
            UNION ALL
            SELECT (started_at AT TIME ZONE 'UTC')::date AS d, -1 AS n FROM old_rows) AS changed
        GROUP BY d ORDER BY d
        ON CONFLICT (day) DO UPDATE
            SET records = call_record_days.records + EXCLUDED.records,
                version = call_record_days.version + 1;
    RETURN NULL;
END $$;

CREATE TRIGGER call_record_days_insert AFTER INSERT ON call_records
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION call_record_days_after_insert();
CREATE TRIGGER call_record_days_delete AFTER DELETE ON call_records
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION call_record_days_after_delete();
CREATE TRIGGER call_record_days_update AFTER UPDATE ON call_records
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION call_record_days_after_update();

-- The call list's filters: an extension on either side (the most selective filter), newest
-- first within it.
CREATE INDEX call_records_caller_extension ON call_records (caller_extension, started_at);
CREATE INDEX call_records_callee_extension ON call_records (callee_extension, started_at);
