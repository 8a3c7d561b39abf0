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
-- Applied once, in the transaction that records the version (DROP COLUMN
-- rewrites the table: about a second a 100,000 rows).
ALTER TABLE woportal_entries DROP COLUMN workorder;
ALTER TABLE woportal_entries DROP COLUMN client;
ALTER TABLE woportal_entries DROP COLUMN status;
ALTER TABLE woportal_entries DROP COLUMN access_level;
ALTER TABLE woportal_entries DROP COLUMN expiry_date;
ALTER TABLE woportal_entries DROP COLUMN created_at;
ALTER TABLE woportal_entries DROP COLUMN updated_at;
DROP TABLE IF EXISTS woportal_entry_namespaces;
INSERT OR IGNORE INTO woportal_schema (version) VALUES (3);
