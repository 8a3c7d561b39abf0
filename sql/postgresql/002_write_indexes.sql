-- Version 2: the indexes no query reads are dropped.  Every write kept
-- seven indexes of woportal_entries up to date (status, workorder,
-- client, access_level, expiry_date, created_at, updated_at) that no
-- statement used: lists read the index memcached holds, and a rebuild
-- reads a prefix's rows in whole.  With them, a group commit of creates
-- took about 1.5 times as long (BENCHMARKS.md).  The columns stay: an
-- index a query needs can come back with it.
DROP INDEX IF EXISTS woportal_entries_status;
DROP INDEX IF EXISTS woportal_entries_workorder;
DROP INDEX IF EXISTS woportal_entries_client;
DROP INDEX IF EXISTS woportal_entries_access_level;
DROP INDEX IF EXISTS woportal_entries_expiry_date;
DROP INDEX IF EXISTS woportal_entries_created_at;
DROP INDEX IF EXISTS woportal_entries_updated_at;
INSERT INTO woportal_schema (version) VALUES (2) ON CONFLICT DO NOTHING;
