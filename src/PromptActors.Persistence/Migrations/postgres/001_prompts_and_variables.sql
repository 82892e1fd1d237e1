-- Prompts are versioned: one row per (id, version), never updated in place.
CREATE TABLE prompts (
    id                text        NOT NULL,
    version           integer     NOT NULL CHECK (version > 0),
    name              text        NOT NULL,
    description       text,
    messages          jsonb       NOT NULL,
    variable_defaults jsonb       NOT NULL,
    settings          jsonb       NOT NULL,
    missing_variables text        NOT NULL,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    PRIMARY KEY (id, version)
);

CREATE TABLE user_variables (
    scope_id    text        NOT NULL,
    key         text        NOT NULL,
    value       text        NOT NULL,
    description text,
    updated_at  timestamptz NOT NULL,
    CONSTRAINT user_variables_scope_key UNIQUE (scope_id, key)
);

CREATE TABLE org_variables (
    scope_id    text        NOT NULL,
    key         text        NOT NULL,
    value       text        NOT NULL,
    description text,
    updated_at  timestamptz NOT NULL,
    CONSTRAINT org_variables_scope_key UNIQUE (scope_id, key)
);

CREATE TABLE project_variables (
    scope_id    text        NOT NULL,
    key         text        NOT NULL,
    value       text        NOT NULL,
    description text,
    updated_at  timestamptz NOT NULL,
    CONSTRAINT project_variables_scope_key UNIQUE (scope_id, key)
);
