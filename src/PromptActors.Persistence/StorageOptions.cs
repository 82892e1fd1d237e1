namespace PromptActors.Persistence;

/// <summary>Where the engine keeps its journal, snapshots, prompts, variables and runs (<c>PromptActors:Storage</c>).</summary>
public sealed class StorageOptions
{
    public const string Section = "PromptActors:Storage";
    public const string ProviderKey = Section + ":Provider";
    public const string ConnectionStringKey = Section + ":ConnectionString";

    public const string Sqlite = "sqlite";
    public const string Postgres = "postgres";

    /// <summary>The embedded default: a SQLite file under the working directory (its folder is created).</summary>
    public const string DefaultSqliteConnectionString = "Data Source=data/promptactors.db";

    /// <summary><c>sqlite</c> (default, one node) or <c>postgres</c> (cluster).</summary>
    public string Provider { get; set; } = Sqlite;

    /// <summary>ADO.NET connection string; optional for SQLite (<see cref="DefaultSqliteConnectionString"/>), required for PostgreSQL.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>
    /// How long the journal's and snapshot store's circuit breakers stay open after repeated failures before one trial
    /// call (Akka's default: 30 s, 60 s). While open every write and recovery fails at once (503 store_unavailable) and
    /// <c>/readyz</c> says not ready; a short timeout lets the engine serve again within seconds of the database's
    /// return. Akka.Persistence 1.5 has no backoff for these breakers: while the database stays down, one trial call
    /// per timeout reaches it.
    /// </summary>
    public TimeSpan BreakerResetTimeout { get; set; } = TimeSpan.FromSeconds(2);

    public const string BreakerResetTimeoutKey = Section + ":BreakerResetTimeout";

    /// <summary>
    /// PostgreSQL: how long the run store's writer waits before it sends a batch of task and run rows (default 3 ms; zero
    /// sends at once). Rows that come one after another, such as a lone conversation's final rows, then share one commit
    /// instead of each paying an fsync that the conversation's next journal write waits behind. A run read that comes
    /// right after a reply waits up to this long for the reply's row.
    /// </summary>
    public TimeSpan RunWriteLinger { get; set; } = TimeSpan.FromMilliseconds(3);

    public const string RunWriteLingerKey = Section + ":RunWriteLinger";

    /// <summary>The provider in canonical form, or null when it is not one we know.</summary>
    internal string? NormalizedProvider => Provider?.Trim().ToLowerInvariant() switch
    {
        null or "" or "sqlite" => Sqlite,
        "postgres" or "postgresql" or "npgsql" => Postgres,
        _ => null,
    };

    /// <summary>The connection string in effect (the SQLite default when none is set).</summary>
    internal string EffectiveConnectionString =>
        string.IsNullOrWhiteSpace(ConnectionString) && NormalizedProvider == Sqlite
            ? DefaultSqliteConnectionString
            : ConnectionString ?? string.Empty;

    public static StorageOptions ForSqlite(string? connectionString = null) =>
        new() { Provider = Sqlite, ConnectionString = connectionString };

    public static StorageOptions ForPostgres(string connectionString) =>
        new() { Provider = Postgres, ConnectionString = connectionString };

    /// <summary>Every problem that can be seen without touching the database, each naming its configuration key.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        switch (NormalizedProvider)
        {
            case null:
                errors.Add($"{ProviderKey} must be '{Sqlite}' or '{Postgres}' (was '{Provider}')");
                break;
            case Postgres when string.IsNullOrWhiteSpace(ConnectionString):
                errors.Add($"{ConnectionStringKey} is required when {ProviderKey} is '{Postgres}' " +
                           "(for example Host=db;Port=5432;Database=prompt_actors;Username=app;Password=...)");
                break;
        }
        if (BreakerResetTimeout < TimeSpan.FromMilliseconds(100) || BreakerResetTimeout > TimeSpan.FromMinutes(10))
            errors.Add($"{BreakerResetTimeoutKey} must be between 00:00:00.1 and 00:10:00 (was {BreakerResetTimeout})");
        if (RunWriteLinger < TimeSpan.Zero || RunWriteLinger > TimeSpan.FromMilliseconds(100))
            errors.Add($"{RunWriteLingerKey} must be between 00:00:00 and 00:00:00.1 (was {RunWriteLinger})");
        return errors;
    }
}

/// <summary>The storage cannot be used: a bad setting, an unreachable database, or a schema this build does not know.</summary>
public sealed class StorageStartupException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>What a migration run did: the schema version found, the version reached and the versions applied.</summary>
public sealed record MigrationResult(int FromVersion, int ToVersion, IReadOnlyList<int> Applied);
