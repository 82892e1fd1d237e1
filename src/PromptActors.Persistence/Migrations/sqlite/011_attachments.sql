-- Image and file parts of messages (see postgres/011_attachments.sql).
CREATE TABLE attachments (
    owner      TEXT    NOT NULL,
    sha256     TEXT    NOT NULL CHECK (length(sha256) = 64),
    media_type TEXT    NOT NULL,
    size_bytes INTEGER NOT NULL,
    data       BLOB    NOT NULL,
    created_at TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (owner, sha256)
) STRICT;
CREATE INDEX attachments_sha256 ON attachments (sha256);
