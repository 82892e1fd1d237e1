using System.Data.Common;

namespace PromptActors.Persistence.Sql;

/// <summary>How a value is stored; each dialect maps these to its own column types.</summary>
internal enum SqlType
{
    Text,
    Int32,
    Int64,
    Double,
    Json,
    Timestamp,
    Money,
    /// <summary>An array of strings (PostgreSQL only).</summary>
    TextArray,
    /// <summary>Binary (bytea, BLOB).</summary>
    Bytes,
}

/// <summary>
/// The few things PostgreSQL and SQLite do differently: opening connections, write transactions, the representation of
/// timestamps, money and JSON, one JSON accessor, per-run write serialization, and the migration lock.
/// Every statement of the stores is shared; only fragments that differ come from here.
/// </summary>
/// <summary>Writers that take turns per key; the value is the PostgreSQL advisory lock class.</summary>
internal enum WriterTurns
{
    /// <summary>Run-store writes of one run (its totals are computed from its task rows).</summary>
    Run = 4711,

    /// <summary>Saves of one prompt id (version MAX+1).</summary>
    Prompt = 4712,

    /// <summary>Replacements of one variable scope's whole map; one class per scope kind.</summary>
    UserScope = 4713,
    OrgScope = 4714,
    ProjectScope = 4715,
}

internal abstract class SqlDialect : IAsyncDisposable
{
    /// <summary>The <c>PromptActors:Storage:Provider</c> value (<c>sqlite</c> or <c>postgres</c>).</summary>
    public abstract string Provider { get; }

    /// <summary>Human-readable database kind for messages.</summary>
    public abstract string DisplayName { get; }

    /// <summary>Where the data lives, without credentials (safe to log).</summary>
    public abstract string Target { get; }

    /// <summary>The connection string as given (holds credentials: never log it).</summary>
    public abstract string ConnectionString { get; }

    /// <summary>The embedded HOCON resource for the journal and snapshot store.</summary>
    public abstract string HoconResource { get; }

    /// <summary>Folder of the dialect's migration scripts (embedded resources).</summary>
    public abstract string MigrationFolder { get; }

    /// <summary>Creates the schema_migrations table when it is missing.</summary>
    public abstract string CreateMigrationsTableSql { get; }

    /// <summary>SQL fragment reading a top-level string member of a JSON column (null when absent).</summary>
    public abstract string JsonText(string column, string member);

    /// <summary>
    /// A statement run first in a run-store write transaction so that writers of the same run take turns (totals are
    /// computed after every earlier writer committed); null when write transactions are serialized anyway.
    /// </summary>
    public abstract string? SerializeRunWritersSql { get; }

    /// <summary>
    /// A statement that makes write transactions on the same key of <paramref name="kind"/> take turns until they end
    /// (parameter <c>@lock_key</c>), so a read-then-write sees what the previous writer committed; null when write
    /// transactions are serialized anyway. Use <see cref="SqlSession.TakeTurnsAsync"/>.
    /// </summary>
    public abstract string? TakeTurnsSql(WriterTurns kind);

    /// <summary>The null-safe "differs" operator between two row values.</summary>
    public abstract string IsDistinctFrom { get; }

    /// <summary>
    /// True when a command of several statements runs as one implicit transaction in one round trip (PostgreSQL's
    /// extended protocol with a single Sync), so a run-store write needs no BEGIN/COMMIT round trips of its own.
    /// </summary>
    public abstract bool StatementsRunAtomically { get; }

    /// <summary>A statement run first in the migration transaction so that nodes starting together migrate one at a time.</summary>
    public abstract string? MigrationLockSql { get; }

    /// <summary>Work before the first connection (e.g. creating the SQLite file's folder).</summary>
    public virtual Task PrepareAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public abstract ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken);

    /// <summary>Returns a connection of <see cref="OpenAsync"/> (to its pool).</summary>
    public virtual ValueTask CloseAsync(DbConnection connection) => connection.DisposeAsync();

    /// <summary>True when <paramref name="ex"/> says <paramref name="connection"/> can no longer be used (not the statement's fault).</summary>
    public virtual bool IsBroken(DbConnection connection, Exception ex) => false;

    /// <summary>True when batched statements are sent with positional parameters (<see cref="PositionalSql"/>).</summary>
    public virtual bool UsesPositionalParameters => false;

    public abstract ValueTask<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>
    /// True when the run store should gather the writes of many instances into one batch (one round trip, one implicit
    /// transaction) instead of writing each on its own.
    /// </summary>
    public virtual bool BatchesRunWrites => false;

    /// <summary>
    /// The statement that takes the run locks of a whole batch, in one order for every writer (no deadlock between nodes);
    /// its parameter <c>@run_ids</c> is a <see cref="SqlType.TextArray"/>. Null when writes are not batched.
    /// </summary>
    public virtual string? SerializeRunsWritersSql => null;

    /// <summary>Sets a parameter's value (and type) for one of our <see cref="SqlType"/>s.</summary>
    public abstract void Bind(DbParameter parameter, object? value, SqlType type);

    public abstract DateTimeOffset ReadTimestamp(DbDataReader reader, int ordinal);

    public abstract decimal ReadMoney(DbDataReader reader, int ordinal);

    public abstract bool IsUniqueViolation(Exception exception);

    public virtual ValueTask DisposeAsync() => ValueTask.CompletedTask;

    /// <summary>Checks the options and builds the dialect; a bad setting fails here with a message naming its key.</summary>
    public static SqlDialect Create(StorageOptions options)
    {
        var errors = options.Validate();
        if (errors.Count > 0)
            throw new StorageStartupException("Invalid storage configuration: " + string.Join("; ", errors));
        return options.NormalizedProvider == StorageOptions.Postgres
            ? PostgresDialect.Create(options.EffectiveConnectionString)
            : SqliteDialect.Create(options.EffectiveConnectionString);
    }
}
