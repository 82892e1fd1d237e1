-- Prompts belong to a scope (see postgres/007_prompt_owners.sql). SQLite cannot change a primary key in place: the table
-- is rebuilt with the owner columns, and every prompt saved before this version becomes a built-in.
CREATE TABLE prompts_owned (
    owner_kind        TEXT    NOT NULL DEFAULT 'builtin' CHECK (owner_kind IN ('builtin', 'user', 'org', 'project')),
    owner_id          TEXT    NOT NULL DEFAULT '',
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
    PRIMARY KEY (owner_kind, owner_id, id, version)
) STRICT;
INSERT INTO prompts_owned (owner_kind, owner_id, id, version, name, description, messages, variable_defaults, settings,
                           missing_variables, created_at, updated_at)
SELECT 'builtin', '', id, version, name, description, messages, variable_defaults, settings, missing_variables,
       created_at, updated_at
FROM prompts;
DROP TABLE prompts;
ALTER TABLE prompts_owned RENAME TO prompts;
CREATE INDEX prompts_by_id ON prompts (id, owner_kind, owner_id, version DESC);
