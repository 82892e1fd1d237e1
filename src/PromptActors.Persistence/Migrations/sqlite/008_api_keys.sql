-- API keys issued through the API (see postgres/008_api_keys.sql).
CREATE TABLE api_keys (
    id           TEXT NOT NULL PRIMARY KEY,
    key_hash     TEXT NOT NULL UNIQUE,
    name         TEXT,
    user_id      TEXT NOT NULL,
    org_id       TEXT,
    project_id   TEXT,
    role         TEXT NOT NULL CHECK (role IN ('runner', 'editor', 'admin')),
    created_at   TEXT NOT NULL,
    created_by   TEXT,
    revoked_at   TEXT,
    last_used_at TEXT
) STRICT;

-- The id of the key whose request created a task (null without auth or through the embedding API).
ALTER TABLE ai_tasks ADD COLUMN key_id TEXT;
