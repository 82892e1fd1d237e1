using System.Data;
using System.Data.Common;
using Npgsql;
using NpgsqlTypes;

namespace PromptActors.Persistence.Sql;

/// <summary>PostgreSQL (Npgsql): timestamptz, numeric(10,6) money, jsonb, advisory locks.</summary>
internal sealed class PostgresDialect : SqlDialect
{
    // Advisory lock keys. The one-bigint and two-int key spaces never overlap, so run locks cannot collide with this one.
    private const long MigrationLockKey = 0x5041_4D49_4752; // "PAMIGR"
    private const int RunLockClass = (int)WriterTurns.Run;

    private readonly NpgsqlDataSource _dataSource;

    private PostgresDialect(string connectionString, string storesConnectionString, NpgsqlConnectionStringBuilder parsed)
    {
        ConnectionString = connectionString;
        Target = $"Host={parsed.Host};Port={parsed.Port};Database={parsed.Database};Username={parsed.Username}";
        _dataSource = NpgsqlDataSource.Create(storesConnectionString);
    }

    private static bool NamesKey(string connectionString, params string[] keys)
    {
        var raw = new DbConnectionStringBuilder { ConnectionString = connectionString };
        return raw.Keys.Cast<string>().Any(k => keys.Any(key => string.Equals(k.Trim(), key, StringComparison.OrdinalIgnoreCase)));
    }

    public static PostgresDialect Create(string connectionString)
    {
        NpgsqlConnectionStringBuilder parsed;
        try
        {
            parsed = new NpgsqlConnectionStringBuilder(connectionString);
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or InvalidCastException)
        {
            throw new StorageStartupException(
                $"{StorageOptions.ConnectionStringKey} is not a valid PostgreSQL connection string: {ex.Message}", ex);
        }
        if (string.IsNullOrWhiteSpace(parsed.Host))
            throw new StorageStartupException($"{StorageOptions.ConnectionStringKey} must name the PostgreSQL server (Host=...)");
        // Neither the stores nor the journal leave session state behind (no temporary tables, session settings or
        // session locks), so a pooled connection need not be reset with DISCARD ALL on every return to the pool: one
        // statement less per transaction. A connection string that says otherwise wins.
        if (!NamesKey(connectionString, "No Reset On Close", "NoResetOnClose"))
        {
            parsed.NoResetOnClose = true;
            connectionString = connectionString.TrimEnd().TrimEnd(';') + ";No Reset On Close=true";
        }
        // Our stores run the same few statements for every turn (run-store writes, reads): preparing them once per pooled
        // connection saves PostgreSQL their parse and plan. Only for the stores' own connections: the journal's SQL
        // (built by linq2db) varies with every batch, and preparing it made every pooled connection hold hundreds of
        // candidate statements (the soak's heap grew by ~150 MiB a minute until idle connections were pruned).
        // Behind a pooler in transaction mode (PgBouncer < 1.21), set Max Auto Prepare=0 in the connection string.
        var stores = connectionString;
        if (!NamesKey(connectionString, "Max Auto Prepare", "MaxAutoPrepare"))
            stores += ";Max Auto Prepare=16";
        return new PostgresDialect(connectionString, stores, parsed);
    }

    public override string Provider => StorageOptions.Postgres;
    public override string DisplayName => "PostgreSQL";
    public override string Target { get; }
    public override string ConnectionString { get; }
    public override string HoconResource => "persistence-postgres.hocon";
    public override string MigrationFolder => "postgres";

    public override string CreateMigrationsTableSql => """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version integer PRIMARY KEY,
            name text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )
        """;

    public override string JsonText(string column, string member) => $"({column} ->> '{member}')";

    public override string? SerializeRunWritersSql => $"SELECT pg_advisory_xact_lock({RunLockClass}, hashtext(@run_id))";

    public override string? TakeTurnsSql(WriterTurns kind) => $"SELECT pg_advisory_xact_lock({(int)kind}, hashtext(@lock_key))";

    public override string? MigrationLockSql => $"SELECT pg_advisory_xact_lock({MigrationLockKey})";

    public override string IsDistinctFrom => "IS DISTINCT FROM";

    public override bool BatchesRunWrites => true;

    public override string? SerializeRunsWritersSql =>
        $"SELECT pg_advisory_xact_lock({RunLockClass}, h) FROM (SELECT DISTINCT hashtext(r) AS h FROM unnest(@run_ids) AS r ORDER BY 1) AS x";

    public override bool StatementsRunAtomically => true;

    public override bool UsesPositionalParameters => true;

    public override async ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken) =>
        await _dataSource.OpenConnectionAsync(cancellationToken);

    /// <summary>
    /// A connection that broke (PostgreSQL restarted since it was pooled, say) empties the pool: the other idle connections
    /// are as dead, and each would fail one more statement.
    /// </summary>
    public override ValueTask CloseAsync(DbConnection connection)
    {
        if (connection.State is ConnectionState.Broken or ConnectionState.Closed || ((NpgsqlConnection)connection).FullState.HasFlag(ConnectionState.Broken))
            _dataSource.Clear();
        return connection.DisposeAsync();
    }

    public override bool IsBroken(DbConnection connection, Exception ex) =>
        Journal.PluginSupport.IsBroken((NpgsqlConnection)connection, ex);

    public override async ValueTask<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken) =>
        await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken);

    public override void Bind(DbParameter parameter, object? value, SqlType type)
    {
        var p = (NpgsqlParameter)parameter;
        switch (type)
        {
            case SqlType.Bytes:
                p.NpgsqlDbType = NpgsqlDbType.Bytea;
                p.Value = value ?? DBNull.Value;
                break;
            case SqlType.Json:
                p.NpgsqlDbType = NpgsqlDbType.Jsonb;
                p.Value = value ?? DBNull.Value;
                break;
            case SqlType.Timestamp:
                p.NpgsqlDbType = NpgsqlDbType.TimestampTz;
                p.Value = value is DateTimeOffset at ? at.ToUniversalTime() : DBNull.Value;
                break;
            case SqlType.Money:
                p.NpgsqlDbType = NpgsqlDbType.Numeric;
                p.Value = value ?? DBNull.Value;
                break;
            case SqlType.Text:
                p.NpgsqlDbType = NpgsqlDbType.Text;
                p.Value = value ?? DBNull.Value;
                break;
            case SqlType.Int32:
                p.NpgsqlDbType = NpgsqlDbType.Integer;
                p.Value = value ?? DBNull.Value;
                break;
            case SqlType.Int64:
                p.NpgsqlDbType = NpgsqlDbType.Bigint;
                p.Value = value ?? DBNull.Value;
                break;
            case SqlType.Double:
                p.NpgsqlDbType = NpgsqlDbType.Double;
                p.Value = value ?? DBNull.Value;
                break;
            case SqlType.TextArray:
                p.NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text;
                p.Value = value ?? DBNull.Value;
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(type), type, null);
        }
    }

    public override DateTimeOffset ReadTimestamp(DbDataReader reader, int ordinal) =>
        reader.GetFieldValue<DateTimeOffset>(ordinal);

    public override decimal ReadMoney(DbDataReader reader, int ordinal) => reader.GetDecimal(ordinal);

    public override bool IsUniqueViolation(Exception exception) =>
        exception is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };

    public override ValueTask DisposeAsync() => _dataSource.DisposeAsync();
}
