-- One ai_tasks row per model call. A turn's own row (step 0, task_id = the turn's task id) carries the user's message, the
-- turn's outcome and final reply, and the tokens, cost and times of the turn's first model call. Each later model call
-- of the turn is a row of its own: task_id '{turn}.{n}', step n, turn_task_id = the turn's row, its own figures, written
-- with the turn's final row in the same transaction and never rewritten. SUM over a run's rows is therefore the run's
-- usage; the transcript and the message and task counts read turn rows (step = 0) only.
ALTER TABLE ai_tasks ADD COLUMN step integer NOT NULL DEFAULT 0;
ALTER TABLE ai_tasks ADD COLUMN turn_task_id text;

CREATE OR REPLACE VIEW ai_run_messages AS
SELECT t.run_id, t.task_id, t.seq, t.created_at AS task_created_at, 0 AS position, 'user' AS role,
       t.request_data ->> 'userMessage' AS content, t.created_at AS at
FROM ai_tasks t
WHERE t.status = 'completed' AND t.step = 0 AND t.request_data ->> 'userMessage' IS NOT NULL
UNION ALL
SELECT t.run_id, t.task_id, t.seq, t.created_at, 1, 'assistant',
       COALESCE(t.response_text, ''), COALESCE(t.completed_at, t.updated_at)
FROM ai_tasks t
WHERE t.status = 'completed' AND t.step = 0;
