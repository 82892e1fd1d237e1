-- Image and file parts of messages, stored once per owner and content. owner is the tenant tag of the scope the message
-- was sent in (TenantIds.Tag: 't' + 12 hex digits of the scope's SHA-256); sha256 is the hex SHA-256 of data. The journal
-- keeps only (sha256, media type, size, name) per part, so a 5 MB image adds a few hundred bytes to it. Rows stay when
-- their instance is reaped: runs show what was sent.
CREATE TABLE attachments (
    owner      text        NOT NULL,
    sha256     text        NOT NULL CHECK (length(sha256) = 64),
    media_type text        NOT NULL,
    size_bytes bigint      NOT NULL,
    data       bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner, sha256)
);
-- The unrestricted engine (no auth) reads a part by its hash alone.
CREATE INDEX attachments_sha256 ON attachments (sha256);
