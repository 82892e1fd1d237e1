-- Two fewer WAL records for every task row PostgreSQL writes (about 120 bytes per turn, measured with pg_walinspect by
-- bench `durable`):
--
-- * ai_tasks.run_id keeps no foreign key. Its check locked the run row (a Heap/LOCK record) on every task insert. The
--   run store writes the run row in the same transaction as the run's first task row, and run rows are never deleted.
-- * ai_tasks_created becomes a BRIN index. The task sweeper's query ("open rows created in the last day") reads a range
--   of created_at; rows are appended in created_at order, so a block-range summary serves it. A B-tree entry cost one
--   WAL record per task; a BRIN index writes nothing for rows appended to a range not summarized yet, and
--   autosummarize has autovacuum summarize each range once it is full.
ALTER TABLE ai_tasks DROP CONSTRAINT IF EXISTS ai_tasks_run_id_fkey;
DROP INDEX IF EXISTS ai_tasks_created;
CREATE INDEX ai_tasks_created ON ai_tasks USING brin (created_at) WITH (autosummarize = on);
-- Building the index summarizes every block range, including the one rows are still appended to (block range 0 of an
-- empty table), whose summary would then be updated, and logged, by every insert. Undo that for the last range:
-- autosummarize summarizes it once rows move on to the next one.
SELECT brin_desummarize_range('ai_tasks_created', GREATEST(pg_relation_size('ai_tasks') / current_setting('block_size')::bigint - 1, 0));
