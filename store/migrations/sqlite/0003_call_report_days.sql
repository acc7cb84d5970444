-- What the admin pages need to answer fast over a year of call records.
--
-- call_record_days: per UTC day of started_at, how many records there are and a version
-- bumped by every write to a record of that day (insert, delete, and updates of the
-- columns billing reads). Report caches
-- key each day's aggregates on it, so new or changed records recompute only their days;
-- the call list sums it for its unfiltered record count instead of counting rows.
-- Kept by triggers so every writer (PBX, CLI, generator, tests) keeps it right.
CREATE TABLE call_record_days (
    day TEXT PRIMARY KEY,
    records INTEGER NOT NULL,
    version INTEGER NOT NULL
);

INSERT INTO call_record_days (day, records, version)
    SELECT substr(started_at, 1, 10), COUNT(*), 1 FROM call_records GROUP BY 1;

-- started_at is RFC 3339 text in UTC, so its first ten characters are the UTC date.
CREATE TRIGGER call_record_days_insert AFTER INSERT ON call_records
BEGIN
    INSERT INTO call_record_days (day, records, version)
        VALUES (substr(NEW.started_at, 1, 10), 1, 1)
        ON CONFLICT (day) DO UPDATE SET records = records + 1, version = version + 1;
END;

CREATE TRIGGER call_record_days_delete AFTER DELETE ON call_records
BEGIN
    UPDATE call_record_days SET records = records - 1, version = version + 1
        WHERE day = substr(OLD.started_at, 1, 10);
END;

-- Only updates of what billing reads move a day: re-pricing a year (cost columns) or
-- closing interrupted records' quality columns must not pay a trigger per row for nothing.
CREATE TRIGGER call_record_days_update AFTER UPDATE OF
    started_at, answered_at, ended_at, talk_seconds, direction, disposition,
    caller_extension, caller_number, caller_site, caller_department,
    callee_extension, callee_number, callee_site, callee_department, trunk, synthetic
    ON call_records
BEGIN
    UPDATE call_record_days SET records = records - 1, version = version + 1
        WHERE day = substr(OLD.started_at, 1, 10);
    INSERT INTO call_record_days (day, records, version)
        VALUES (substr(NEW.started_at, 1, 10), 1, 1)
        ON CONFLICT (day) DO UPDATE SET records = records + 1, version = version + 1;
END;

-- The call list's filters: an extension on either side (the most selective filter), newest
-- first within it.
CREATE INDEX call_records_caller_extension ON call_records (caller_extension, started_at);
CREATE INDEX call_records_callee_extension ON call_records (callee_extension, started_at);
