-- Prompts belong to a scope: a user, an org or a project ('user' | 'org' | 'project' with its id), or to nobody
-- ('builtin' with an empty id: readable by every caller, writable by none of the keys). Two scopes may each have a prompt
-- of the same id. Every prompt saved before this version becomes a built-in, so instances pinned to it keep running.
ALTER TABLE prompts ADD COLUMN owner_kind text NOT NULL DEFAULT 'builtin'
    CHECK (owner_kind IN ('builtin', 'user', 'org', 'project'));
ALTER TABLE prompts ADD COLUMN owner_id text NOT NULL DEFAULT '';
ALTER TABLE prompts DROP CONSTRAINT prompts_pkey;
ALTER TABLE prompts ADD PRIMARY KEY (owner_kind, owner_id, id, version);
-- A caller's id is resolved over its four candidate owners: one index probe each.
CREATE INDEX prompts_by_id ON prompts (id, owner_kind, owner_id, version DESC);
