-- API keys issued through the API (POST /v1/keys). Only the SHA-256 of a key is stored ('sha256:' + 64 hex digits); the
-- key itself is shown once, to the admin who issued it. A revoked key keeps its row (revoked_at set), so the list still
-- says who had it and when it was last used. Every node looks a key up by its hash (the unique index) at most every
-- half second, which is how a revocation reaches every node of a cluster within a second.
CREATE TABLE api_keys (
    id           text        NOT NULL PRIMARY KEY,
    key_hash     text        NOT NULL UNIQUE,
    name         text,
    user_id      text        NOT NULL,
    org_id       text,
    project_id   text,
    role         text        NOT NULL CHECK (role IN ('runner', 'editor', 'admin')),
    created_at   timestamptz NOT NULL,
    created_by   text,
    revoked_at   timestamptz,
    last_used_at timestamptz
);

-- The id of the key whose request created a task (null without auth or through the embedding API). Written once with the
-- task's first row and never changed: task-row updates stay HOT and their WAL records leave it out (suffix compression).
ALTER TABLE ai_tasks ADD COLUMN key_id text;
