using System.Data.Common;
using System.Globalization;
using Microsoft.Data.Sqlite;

namespace PromptActors.Persistence.Sql;

/// <summary>
/// SQLite (Microsoft.Data.Sqlite): timestamps as fixed-width UTC ISO-8601 text (sortable, microsecond precision like
/// PostgreSQL), money as integer millionths (exact; SUM stays exact), JSON as text. The file runs in WAL mode and write
/// transactions begin IMMEDIATE, so writers are serialized by SQLite itself.
/// </summary>
internal sealed class SqliteDialect : SqlDialect
{
    public const string TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'";
    private const decimal MicrosPerUnit = 1_000_000m;

    private readonly string _path;

    private SqliteDialect(string connectionString, string path)
    {
        ConnectionString = connectionString;
        _path = path;
    }

    public static SqliteDialect Create(string connectionString)
    {
        SqliteConnectionStringBuilder parsed;
        try
        {
            parsed = new SqliteConnectionStringBuilder(connectionString);
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or InvalidOperationException)
        {
            throw new StorageStartupException(
                $"{StorageOptions.ConnectionStringKey} is not a valid SQLite connection string: {ex.Message}", ex);
        }
        if (string.IsNullOrWhiteSpace(parsed.DataSource))
            throw new StorageStartupException($"{StorageOptions.ConnectionStringKey} must name the SQLite file (Data Source=...)");
        if (parsed.Mode == SqliteOpenMode.Memory || parsed.DataSource == ":memory:")
            throw new StorageStartupException(
                $"{StorageOptions.ConnectionStringKey} names an in-memory SQLite database; the journal and the stores need a file");
        return new SqliteDialect(connectionString, Path.GetFullPath(parsed.DataSource));
    }

    public override string Provider => StorageOptions.Sqlite;
    public override string DisplayName => "SQLite";
    public override string Target => _path;
    public override string ConnectionString { get; }
    public override string HoconResource => "persistence-sqlite.hocon";
    public override string MigrationFolder => "sqlite";

    public override string CreateMigrationsTableSql => """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        ) STRICT
        """;

    public override string JsonText(string column, string member) => $"json_extract({column}, '$.{member}')";

    // BEGIN IMMEDIATE already gives one writer at a time.
    public override string? SerializeRunWritersSql => null;

    public override string? TakeTurnsSql(WriterTurns kind) => null;

    public override string IsDistinctFrom => "IS NOT";

    public override bool StatementsRunAtomically => false;

    public override string? MigrationLockSql => null;

    public override async Task PrepareAsync(CancellationToken cancellationToken)
    {
        if (Path.GetDirectoryName(_path) is { Length: > 0 } folder)
            Directory.CreateDirectory(folder);
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        // WAL lets readers (and the journal) work while a store writes; the setting is kept in the file.
        command.CommandText = "PRAGMA journal_mode = WAL";
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public override async ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(ConnectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    public override ValueTask<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken) =>
        ValueTask.FromResult<DbTransaction>(((SqliteConnection)connection).BeginTransaction(deferred: false));

    public override void Bind(DbParameter parameter, object? value, SqlType type)
    {
        parameter.Value = value switch
        {
            null => DBNull.Value,
            DateTimeOffset at when type == SqlType.Timestamp => FormatTimestamp(at),
            decimal money when type == SqlType.Money => ToMicros(money),
            _ => value,
        };
    }

    public override DateTimeOffset ReadTimestamp(DbDataReader reader, int ordinal) => ParseTimestamp(reader.GetString(ordinal));

    public override decimal ReadMoney(DbDataReader reader, int ordinal) => reader.GetInt64(ordinal) / MicrosPerUnit;

    public override bool IsUniqueViolation(Exception exception) =>
        exception is SqliteException { SqliteErrorCode: 19, SqliteExtendedErrorCode: 2067 or 1555 };

    public static string FormatTimestamp(DateTimeOffset at) =>
        at.UtcDateTime.ToString(TimestampFormat, CultureInfo.InvariantCulture);

    public static DateTimeOffset ParseTimestamp(string text) =>
        new(DateTime.ParseExact(text, TimestampFormat, CultureInfo.InvariantCulture,
            DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal), TimeSpan.Zero);

    /// <summary>Money to integer millionths, rounded like PostgreSQL's numeric(…,6) (half away from zero).</summary>
    public static long ToMicros(decimal amount) =>
        decimal.ToInt64(Math.Round(amount * MicrosPerUnit, 0, MidpointRounding.AwayFromZero));
}
