-- ngx_http_woportal_module: the PostgreSQL schema, version 1.
-- Applied by an nginx worker when it connects to a database that lacks
-- it, under an advisory lock so that workers of several nodes apply it
-- once; every statement is idempotent.  Entries of several locations (key
-- prefixes) may share one database: "prefix" tells them apart.  "doc" is
-- TEXT, not JSONB: the entry comes back byte for byte as it was served.

CREATE TABLE IF NOT EXISTS woportal_entries (
    prefix        TEXT    NOT NULL,
    id            TEXT    NOT NULL,
    version       BIGINT  NOT NULL,
    workorder     TEXT    NOT NULL,
    client        TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    access_level  TEXT    NOT NULL,
    expiry_date   BIGINT,                 -- ms since the epoch; NULL: none
    created_at    BIGINT  NOT NULL,       -- ms since the epoch
    updated_at    BIGINT  NOT NULL,       -- ms since the epoch
    doc           TEXT    NOT NULL,       -- the entry, the JSON served
    PRIMARY KEY (prefix, id)
);

CREATE TABLE IF NOT EXISTS woportal_entry_namespaces (
    prefix        TEXT    NOT NULL,
    namespace     TEXT    NOT NULL,
    id            TEXT    NOT NULL,
    PRIMARY KEY (prefix, namespace, id)
);

CREATE INDEX IF NOT EXISTS woportal_entries_status
    ON woportal_entries (prefix, status);
CREATE INDEX IF NOT EXISTS woportal_entries_workorder
    ON woportal_entries (prefix, workorder);
CREATE INDEX IF NOT EXISTS woportal_entries_client
    ON woportal_entries (prefix, client);
CREATE INDEX IF NOT EXISTS woportal_entries_access_level
    ON woportal_entries (prefix, access_level);
CREATE INDEX IF NOT EXISTS woportal_entries_expiry_date
    ON woportal_entries (prefix, expiry_date);
CREATE INDEX IF NOT EXISTS woportal_entries_created_at
    ON woportal_entries (prefix, created_at);
CREATE INDEX IF NOT EXISTS woportal_entries_updated_at
    ON woportal_entries (prefix, updated_at);
CREATE INDEX IF NOT EXISTS woportal_entry_namespaces_id
    ON woportal_entry_namespaces (prefix, id);

CREATE TABLE IF NOT EXISTS woportal_schema (
    version       INTEGER PRIMARY KEY
);
INSERT INTO woportal_schema (version) VALUES (1) ON CONFLICT DO NOTHING;
