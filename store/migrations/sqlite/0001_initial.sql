-- Sentral store, SQLite flavour. Money is TEXT holding the exact decimal string (never
-- REAL); times are TEXT in RFC 3339 as sqlx writes them (UTC, so they sort as text);
-- booleans are INTEGER 0/1.

CREATE TABLE config_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);
INSERT INTO config_version (id, version, updated_at) VALUES (1, 0, '1970-01-01T00:00:00+00:00');

CREATE TABLE departments (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    cost_centre TEXT
);

CREATE TABLE sites (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    address TEXT NOT NULL DEFAULT '',
    department_id INTEGER REFERENCES departments (id) ON DELETE SET NULL
);

CREATE TABLE trunks (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    host TEXT NOT NULL,
    port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
    transport TEXT NOT NULL CHECK (transport IN ('udp', 'tcp', 'tls')),
    username TEXT,
    secret TEXT,
    register INTEGER NOT NULL CHECK (register IN (0, 1)),
    channel_limit INTEGER CHECK (channel_limit IS NULL OR channel_limit >= 0),
    allowed_sources TEXT NOT NULL DEFAULT '[]',
    enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1))
);

-- A block of direct-dial numbers owned by exactly one site or one trunk.
CREATE TABLE number_ranges (
    id INTEGER PRIMARY KEY,
    first_number TEXT NOT NULL,
    last_number TEXT NOT NULL,
    site_id INTEGER REFERENCES sites (id) ON DELETE CASCADE,
    trunk_id INTEGER REFERENCES trunks (id) ON DELETE CASCADE,
    CHECK (length(first_number) = length(last_number) AND first_number <= last_number),
    CHECK ((site_id IS NULL) <> (trunk_id IS NULL))
);
CREATE INDEX number_ranges_site ON number_ranges (site_id);
CREATE INDEX number_ranges_trunk ON number_ranges (trunk_id);

CREATE TABLE extensions (
    id INTEGER PRIMARY KEY,
    number TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    site_id INTEGER NOT NULL REFERENCES sites (id) ON DELETE RESTRICT,
    department_id INTEGER REFERENCES departments (id) ON DELETE SET NULL,
    class_of_service TEXT NOT NULL
        CHECK (class_of_service IN ('internal', 'national', 'mobile', 'international')),
    premium_allowed INTEGER NOT NULL DEFAULT 0 CHECK (premium_allowed IN (0, 1)),
    realm TEXT NOT NULL,
    ha1_md5 TEXT NOT NULL,
    ha1_sha256 TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1))
);
CREATE INDEX extensions_site ON extensions (site_id);

CREATE TABLE registrations (
    id INTEGER PRIMARY KEY,
    extension_id INTEGER NOT NULL REFERENCES extensions (id) ON DELETE CASCADE,
    contact_uri TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    transport TEXT NOT NULL,
    source_addr TEXT NOT NULL,
    connection_id TEXT,
    instance_id TEXT,
    reg_id INTEGER,
    call_id TEXT NOT NULL,
    cseq INTEGER NOT NULL,
    user_agent TEXT,
    updated_at TEXT NOT NULL,
    UNIQUE (extension_id, contact_uri)
);
CREATE INDEX registrations_expires ON registrations (expires_at);

CREATE TABLE call_records (
    id INTEGER PRIMARY KEY,
    caller_extension TEXT,
    caller_number TEXT NOT NULL,
    caller_site TEXT,
    caller_department TEXT,
    callee_extension TEXT,
    callee_number TEXT NOT NULL,
    callee_site TEXT,
    callee_department TEXT,
    direction TEXT NOT NULL
        CHECK (direction IN ('internal_same_site', 'internal_other_site', 'outbound', 'inbound', 'emergency')),
    trunk TEXT,
    started_at TEXT NOT NULL,
    answered_at TEXT,
    ended_at TEXT,
    talk_seconds INTEGER NOT NULL DEFAULT 0 CHECK (talk_seconds >= 0),
    disposition TEXT
        CHECK (disposition IS NULL OR disposition IN ('answered', 'busy', 'no_answer', 'cancelled', 'failed', 'rejected_by_policy', 'interrupted')),
    sip_code INTEGER,
    sip_reason TEXT,
    transfer_chain TEXT NOT NULL DEFAULT '[]',
    caller_packets INTEGER,
    caller_lost INTEGER,
    caller_jitter_ms REAL,
    caller_mos REAL,
    callee_packets INTEGER,
    callee_lost INTEGER,
    callee_jitter_ms REAL,
    callee_mos REAL,
    synthetic INTEGER NOT NULL DEFAULT 0 CHECK (synthetic IN (0, 1)),
    cost_new TEXT,
    cost_old TEXT,
    tariff_version TEXT,
    rated_at TEXT
);
CREATE INDEX call_records_started ON call_records (started_at);
CREATE INDEX call_records_open ON call_records (id) WHERE ended_at IS NULL;

CREATE TABLE tariff_files (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('dataset', 'tariff')),
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    valid_from TEXT,
    valid_to TEXT,
    content TEXT NOT NULL,
    imported_at TEXT NOT NULL,
    active INTEGER NOT NULL CHECK (active IN (0, 1))
);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL,
    source TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
