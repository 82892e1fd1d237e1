-- Prompts are versioned: one row per (id, version), never updated in place.
-- Timestamps are UTC ISO-8601 text with microseconds (yyyy-MM-ddTHH:mm:ss.ffffffZ): sortable as text.
CREATE TABLE prompts (
    id                TEXT    NOT NULL,
    version           INTEGER NOT NULL CHECK (version > 0),
    name              TEXT    NOT NULL,
    description       TEXT,
    messages          TEXT    NOT NULL,
    variable_defaults TEXT    NOT NULL,
    settings          TEXT    NOT NULL,
    missing_variables TEXT    NOT NULL,
    created_at        TEXT    NOT NULL,
    updated_at        TEXT    NOT NULL,
    PRIMARY KEY (id, version)
) STRICT;

CREATE TABLE user_variables (
    scope_id    TEXT NOT NULL,
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    description TEXT,
    updated_at  TEXT NOT NULL,
    CONSTRAINT user_variables_scope_key UNIQUE (scope_id, key)
) STRICT;

CREATE TABLE org_variables (
    scope_id    TEXT NOT NULL,
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    description TEXT,
    updated_at  TEXT NOT NULL,
    CONSTRAINT org_variables_scope_key UNIQUE (scope_id, key)
) STRICT;

CREATE TABLE project_variables (
    scope_id    TEXT NOT NULL,
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    description TEXT,
    updated_at  TEXT NOT NULL,
    CONSTRAINT project_variables_scope_key UNIQUE (scope_id, key)
) STRICT;
