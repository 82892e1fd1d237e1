-- Runs and their tasks. Totals on ai_runs are derived from ai_tasks in the same transaction as every task write, so a
-- replayed write can never double count. There is no transcript column: it is derived from task rows (ai_run_messages).
-- Money (cost, total_cost) is stored as INTEGER millionths of the currency unit: exact, and SUM stays exact.
CREATE TABLE ai_runs (
    id              TEXT    NOT NULL PRIMARY KEY,
    user_id         TEXT    NOT NULL,
    org_id          TEXT,
    project_id      TEXT,
    source_type     TEXT    NOT NULL,
    source_id       TEXT    NOT NULL,
    name            TEXT,
    prompt_id       TEXT    NOT NULL,
    prompt_version  INTEGER NOT NULL,
    settings        TEXT    NOT NULL,
    variable_values TEXT    NOT NULL,
    created_at      TEXT    NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'idle' CHECK (status IN ('idle', 'running')),
    total_tokens    INTEGER NOT NULL DEFAULT 0,
    total_cost      INTEGER NOT NULL DEFAULT 0,
    message_count   INTEGER NOT NULL DEFAULT 0,
    task_count      INTEGER NOT NULL DEFAULT 0,
    last_message_at TEXT,
    updated_at      TEXT    NOT NULL
) STRICT;

CREATE TABLE ai_tasks (
    task_id             TEXT    NOT NULL PRIMARY KEY,
    run_id              TEXT    NOT NULL REFERENCES ai_runs (id),
    user_id             TEXT    NOT NULL,
    service             TEXT    NOT NULL,
    task_name           TEXT    NOT NULL,
    provider            TEXT    NOT NULL,
    model               TEXT    NOT NULL,
    request_data        TEXT    NOT NULL,
    created_at          TEXT    NOT NULL,
    seq                 INTEGER NOT NULL DEFAULT 0,
    status              TEXT    NOT NULL
        CHECK (status IN ('pending', 'streaming', 'completed', 'failed', 'cancelled')),
    response_text       TEXT,
    response_errors     TEXT,
    tokens_input        INTEGER NOT NULL DEFAULT 0,
    tokens_output       INTEGER NOT NULL DEFAULT 0,
    tokens_total        INTEGER NOT NULL DEFAULT 0,
    cost                INTEGER NOT NULL DEFAULT 0,
    time_to_first_token REAL,
    total_time          REAL,
    completed_at        TEXT,
    updated_at          TEXT    NOT NULL
) STRICT;
