-- Version 5 gives PostgreSQL its own journal tables with fewer indexes (see postgres/005_journal_tables.sql). SQLite
-- keeps the tables the plugin creates on first use (auto-initialize stays on): nothing to change here.
SELECT 1
