-- The tool-call ledger (see postgres/009_tool_calls.sql).
CREATE TABLE ai_tool_calls (
    task_id      TEXT NOT NULL REFERENCES ai_tasks (task_id),
    call_id      TEXT NOT NULL,
    ordinal      INTEGER NOT NULL,
    run_id       TEXT NOT NULL,
    tool         TEXT NOT NULL,
    arguments    TEXT NOT NULL,
    status       TEXT NOT NULL,
    result       TEXT,
    step         INTEGER NOT NULL,
    policy       TEXT NOT NULL,
    decision     TEXT,
    decided_by   TEXT,
    reason       TEXT,
    requested_at TEXT NOT NULL,
    started_at   TEXT,
    completed_at TEXT,
    duration_ms  REAL,
    PRIMARY KEY (task_id, call_id)
) STRICT;

CREATE INDEX ai_tool_calls_run ON ai_tool_calls (run_id);
