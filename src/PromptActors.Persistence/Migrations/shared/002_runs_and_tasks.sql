-- Same in both dialects: the indexes behind "runs of a user, newest first" and "tasks of a run".
CREATE INDEX ai_runs_user_created ON ai_runs (user_id, created_at);
CREATE INDEX ai_tasks_run ON ai_tasks (run_id);
