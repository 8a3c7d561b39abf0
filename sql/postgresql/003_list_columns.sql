-- Version 3: the columns no statement reads are dropped, and the table of
-- namespaces.  Every write filled seven columns of woportal_entries
-- (workorder, client, status, access_level, expiry_date, created_at,
-- updated_at) and a row of woportal_entry_namespaces for each company
-- namespace, for lists to filter and sort on; no statement read them:
-- lists read the index memcached holds, and a rebuild reads the doc of
-- a prefix's rows.  Every field is in doc, the entry as served.  What
-- stays is what the statements use: the key (prefix, id), the version (a
-- write not newer than the row is refused; a tombstone is the highest)
-- and doc.
-- Applied once, under the advisory lock, in the transaction that records
-- the version.  PostgreSQL only marks the columns dropped, without a
-- rewrite: a row's old bytes go when it is next written (or with VACUUM
-- FULL).
ALTER TABLE woportal_entries
    DROP COLUMN IF EXISTS workorder,
    DROP COLUMN IF EXISTS client,
    DROP COLUMN IF EXISTS status,
    DROP COLUMN IF EXISTS access_level,
    DROP COLUMN IF EXISTS expiry_date,
    DROP COLUMN IF EXISTS created_at,
    DROP COLUMN IF EXISTS updated_at;
DROP TABLE IF EXISTS woportal_entry_namespaces;
INSERT INTO woportal_schema (version) VALUES (3) ON CONFLICT DO NOTHING;
