-- One ai_tasks row per model call (see postgres/010_model_call_rows.sql).
ALTER TABLE ai_tasks ADD COLUMN step INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ai_tasks ADD COLUMN turn_task_id TEXT;

DROP VIEW ai_run_messages;
CREATE VIEW ai_run_messages AS
SELECT t.run_id, t.task_id, t.seq, t.created_at AS task_created_at, 0 AS position, 'user' AS role,
       json_extract(t.request_data, '$.userMessage') AS content, t.created_at AS at
FROM ai_tasks t
WHERE t.status = 'completed' AND t.step = 0 AND json_extract(t.request_data, '$.userMessage') IS NOT NULL
UNION ALL
SELECT t.run_id, t.task_id, t.seq, t.created_at, 1, 'assistant',
       COALESCE(t.response_text, ''), COALESCE(t.completed_at, t.updated_at)
FROM ai_tasks t
WHERE t.status = 'completed' AND t.step = 0;
