-- Version 6 lightens PostgreSQL's task writes (see postgres/006_lighter_task_writes.sql). SQLite has no BRIN index and
-- cannot drop a foreign key without rebuilding the table; its write volume is not the cluster's: nothing to change here.
SELECT 1
