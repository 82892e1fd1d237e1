-- Runs and their tasks. Totals on ai_runs are derived from ai_tasks in the same transaction as every task write, so a
-- replayed write can never double count. There is no transcript column: it is derived from task rows (ai_run_messages).
--
-- Column order keeps per-turn WAL small and flat: columns that never change come first, the ones every write changes
-- last. An update that stays on its page (fillfactor leaves room; no indexed column changes, so it is HOT) is logged
-- with prefix/suffix compression: only the changed middle of the row goes to the WAL, never the unchanged prefix.
CREATE TABLE ai_runs (
    id              text          NOT NULL PRIMARY KEY,
    user_id         text          NOT NULL,
    org_id          text,
    project_id      text,
    source_type     text          NOT NULL,
    source_id       text          NOT NULL,
    name            text,
    prompt_id       text          NOT NULL,
    prompt_version  integer       NOT NULL,
    settings        jsonb         NOT NULL,
    variable_values jsonb         NOT NULL,
    created_at      timestamptz   NOT NULL,
    status          text          NOT NULL DEFAULT 'idle' CHECK (status IN ('idle', 'running')),
    total_tokens    bigint        NOT NULL DEFAULT 0,
    total_cost      numeric(14,6) NOT NULL DEFAULT 0,
    message_count   integer       NOT NULL DEFAULT 0,
    task_count      integer       NOT NULL DEFAULT 0,
    last_message_at timestamptz,
    updated_at      timestamptz   NOT NULL
) WITH (fillfactor = 80);

-- task_id (the outbox's idempotency key) is the primary key; a surrogate id would cost one more index write per task.
CREATE TABLE ai_tasks (
    task_id             text          NOT NULL PRIMARY KEY,
    run_id              text          NOT NULL REFERENCES ai_runs (id),
    user_id             text          NOT NULL,
    service             text          NOT NULL,
    task_name           text          NOT NULL,
    provider            text          NOT NULL,
    model               text          NOT NULL,
    request_data        jsonb         NOT NULL,
    created_at          timestamptz   NOT NULL,
    seq                 integer       NOT NULL DEFAULT 0,
    status              text          NOT NULL
        CHECK (status IN ('pending', 'streaming', 'completed', 'failed', 'cancelled')),
    response_text       text,
    response_errors     jsonb,
    tokens_input        bigint        NOT NULL DEFAULT 0,
    tokens_output       bigint        NOT NULL DEFAULT 0,
    tokens_total        bigint        NOT NULL DEFAULT 0,
    cost                numeric(10,6) NOT NULL DEFAULT 0,
    time_to_first_token double precision,
    total_time          double precision,
    completed_at        timestamptz,
    updated_at          timestamptz   NOT NULL
) WITH (fillfactor = 70);
