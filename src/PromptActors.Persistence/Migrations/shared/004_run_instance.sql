-- The task sweeper reads "tasks created in the last day that are still open": a range of this index. created_at never
-- changes after the first write, so task-row updates stay HOT in PostgreSQL (no index entry is rewritten).
CREATE INDEX ai_tasks_created ON ai_tasks (created_at);
