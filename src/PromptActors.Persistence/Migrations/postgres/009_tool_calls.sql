-- The tool-call ledger: one row per tool call of a task, written with the task's final row in the same transaction,
-- keyed by (task_id, call_id) and never rewritten (a repeated final write inserts nothing). decision/decided_by say who
-- approved or rejected a call that needed a person; step is the model call (0, 1, ...) of the turn that asked for it.
CREATE TABLE ai_tool_calls (
    task_id      text             NOT NULL REFERENCES ai_tasks (task_id),
    call_id      text             NOT NULL,
    ordinal      integer          NOT NULL,
    run_id       text             NOT NULL,
    tool         text             NOT NULL,
    arguments    text             NOT NULL,
    status       text             NOT NULL,
    result       text,
    step         integer          NOT NULL,
    policy       text             NOT NULL,
    decision     text,
    decided_by   text,
    reason       text,
    requested_at timestamptz      NOT NULL,
    started_at   timestamptz,
    completed_at timestamptz,
    duration_ms  double precision,
    PRIMARY KEY (task_id, call_id)
);

CREATE INDEX ai_tool_calls_run ON ai_tool_calls (run_id);
