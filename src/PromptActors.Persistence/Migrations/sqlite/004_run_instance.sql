-- The instance that writes a run (one run per instance). The task sweeper joins it to unfinished task rows to wake the
-- instance whose node died mid-task. Rows written before this version keep NULL and are not swept.
ALTER TABLE ai_runs ADD COLUMN instance_id TEXT;
