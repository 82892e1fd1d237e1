-- A run's transcript, derived from its completed task rows: nothing is rewritten when a turn is added.
-- Order a run's messages by (seq, task_created_at, task_id, position); seq numbers an instance's tasks 1, 2, 3…
CREATE VIEW ai_run_messages AS
SELECT t.run_id, t.task_id, t.seq, t.created_at AS task_created_at, 0 AS position, 'user' AS role,
       t.request_data ->> 'userMessage' AS content, t.created_at AS at
FROM ai_tasks t
WHERE t.status = 'completed' AND t.request_data ->> 'userMessage' IS NOT NULL
UNION ALL
SELECT t.run_id, t.task_id, t.seq, t.created_at, 1, 'assistant',
       COALESCE(t.response_text, ''), COALESCE(t.completed_at, t.updated_at)
FROM ai_tasks t
WHERE t.status = 'completed';
