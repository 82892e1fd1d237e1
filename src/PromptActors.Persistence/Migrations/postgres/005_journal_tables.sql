-- The Akka.Persistence.Sql journal, snapshot and tag tables, created here instead of by the plugin's auto-initialize
-- (turned off in hocon/persistence-postgres.hocon), with the same columns and types the plugin creates for
-- PostgreSQL.15. The journal keeps only the two indexes the plugin reads through: the primary key on ordering and the
-- unique (persistence_id, sequence_number). The plugin's journal_created_idx and journal_sequence_number_idx are not
-- used by any query the engine makes, and each cost one more index entry in the WAL for every event (about 128 bytes
-- per turn together). Databases whose tables the plugin already created keep their rows; only those two indexes go.
CREATE TABLE IF NOT EXISTS journal (
    ordering        bigint  GENERATED ALWAYS AS IDENTITY,
    created         bigint  NOT NULL,
    deleted         boolean NOT NULL,
    persistence_id  text    NOT NULL,
    sequence_number bigint  NOT NULL,
    message         bytea   NOT NULL,
    manifest        text,
    identifier      integer,
    writer_uuid     text,
    CONSTRAINT "PK_journal" PRIMARY KEY (ordering),
    CONSTRAINT journal_uq UNIQUE (persistence_id, sequence_number)
);
DROP INDEX IF EXISTS journal_created_idx;
DROP INDEX IF EXISTS journal_sequence_number_idx;

CREATE TABLE IF NOT EXISTS tags (
    ordering_id     bigint NOT NULL,
    tag             text   NOT NULL,
    sequence_nr     bigint NOT NULL,
    persistence_id  text   NOT NULL,
    CONSTRAINT "PK_tags" PRIMARY KEY (ordering_id, tag)
);
CREATE INDEX IF NOT EXISTS tags_persistence_id_sequence_nr_idx ON tags (persistence_id, sequence_nr);
CREATE INDEX IF NOT EXISTS tags_tag_idx ON tags (tag);

CREATE TABLE IF NOT EXISTS snapshot (
    persistence_id  text    NOT NULL,
    sequence_number bigint  NOT NULL,
    created         bigint  NOT NULL,
    snapshot        bytea,
    manifest        text,
    serializer_id   integer,
    CONSTRAINT "PK_snapshot" PRIMARY KEY (persistence_id, sequence_number)
);
CREATE INDEX IF NOT EXISTS snapshot_created_idx ON snapshot (created);
CREATE INDEX IF NOT EXISTS snapshot_sequence_number_idx ON snapshot (sequence_number);
