using System.Text;
using Akka.Configuration;
using Akka.Persistence.Sql;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using PromptActors.Persistence.Migrations;
using PromptActors.Persistence.Prompts;
using PromptActors.Persistence.Runs;
using PromptActors.Persistence.Sql;
using PromptActors.Persistence.Variables;
using PromptActors.Prompts;
using PromptActors.Runs;
using PromptActors.Variables;

namespace PromptActors.Persistence;

/// <summary>
/// The engine's storage on one database (SQLite file or PostgreSQL): the Akka journal/snapshot configuration, the three
/// stores Core needs, versioned migrations and the start-up check. Create it once per process and dispose it at the end.
/// </summary>
/// <remarks>
/// Without Akka.Hosting: <c>await storage.InitializeAsync()</c>, then start the actor system with
/// <see cref="AkkaConfig"/> on top of your configuration and <see cref="PromptActorsConfig.Default"/>, and hand
/// <see cref="Prompts"/>, <see cref="Variables"/>, <see cref="Runs"/> to <c>PromptActorsRuntime.Start</c>.
/// </remarks>
public sealed class PromptActorsStorage : IAsyncDisposable
{
    private const string ConnectionStringPlaceholder = "${prompt-actors.storage.connection-string}";

    private readonly SqlDialect _dialect;
    private readonly ILogger _logger;
    private readonly SqlRunStore _runs;
    private readonly TimeSpan _breakerReset;

    private PromptActorsStorage(SqlDialect dialect, ILogger logger, TimeProvider time, TimeSpan breakerReset, TimeSpan runWriteLinger)
    {
        _dialect = dialect;
        _breakerReset = breakerReset;
        _logger = logger;
        Prompts = new SqlPromptStore(dialect, time);
        Variables = new SqlScopedVariableStore(dialect, time);
        Runs = _runs = new SqlRunStore(dialect, runWriteLinger, time);
        ApiKeys = new Access.SqlApiKeyStore(dialect);
        Attachments = new Attachments.SqlAttachmentStore(dialect);
    }

    /// <summary>
    /// Builds the storage from <paramref name="options"/>. A bad provider or a malformed connection string fails here with
    /// a <see cref="StorageStartupException"/> naming the setting; nothing touches the database yet.
    /// </summary>
    public static PromptActorsStorage Create(StorageOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<PromptActorsStorage>();
        return new PromptActorsStorage(SqlDialect.Create(options), logger, time ?? TimeProvider.System, options.BreakerResetTimeout,
            options.RunWriteLinger);
    }

    /// <summary>The newest schema version this build creates.</summary>
    public static int SchemaVersion => MigrationScripts.LatestVersion;

    /// <summary><c>sqlite</c> or <c>postgres</c>.</summary>
    public string Provider => _dialect.Provider;

    /// <summary>Where the data lives, without credentials (safe to show and log).</summary>
    public string Target => _dialect.Target;

    public IPromptStore Prompts { get; }

    public IScopedVariableStore Variables { get; }

    public IRunStore Runs { get; }

    /// <summary>API keys issued through the host's <c>/v1/keys</c> (only their hashes).</summary>
    public PromptActors.Access.IApiKeyStore ApiKeys { get; }

    /// <summary>The bytes of image and file parts of messages (content-addressed, per owner).</summary>
    public PromptActors.Attachments.IAttachmentStore Attachments { get; }

    internal SqlDialect Dialect => _dialect;

    /// <summary>
    /// Akka configuration for the journal and snapshot store on this database (both plugins set explicitly, tables created
    /// on first use), with Akka.Persistence.Sql's defaults as its fallback. Put it above the engine's configuration.
    /// </summary>
    public Config AkkaConfig() => PersistenceConfig().WithFallback(SqlPersistence.DefaultConfiguration);

    /// <summary>Only our persistence settings (the hosting extension adds Akka.Persistence.Sql's defaults separately).</summary>
    internal Config PersistenceConfig()
    {
        var reset = (long)_breakerReset.TotalMilliseconds;
        return ConfigurationFactory.ParseString(
                $"akka.persistence.journal.sql.circuit-breaker.reset-timeout = {reset}ms\n" +
                $"akka.persistence.snapshot-store.sql.circuit-breaker.reset-timeout = {reset}ms\n")
            .WithFallback(ConfigurationFactory.ParseString(LoadHocon(_dialect.HoconResource)
                .Replace(ConnectionStringPlaceholder, HoconString(_dialect.ConnectionString), StringComparison.Ordinal)));
    }

    /// <summary>
    /// The start-up check: opens the database (creating the SQLite file and its folder) and fails with a
    /// <see cref="StorageStartupException"/> naming <c>PromptActors:Storage:ConnectionString</c> when it cannot.
    /// </summary>
    public async Task CheckAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            await _dialect.PrepareAsync(cancellationToken);
            await using var session = await SqlSession.OpenAsync(_dialect, cancellationToken);
            await session.Sql("SELECT 1").ScalarAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not StorageStartupException)
        {
            throw new StorageStartupException(
                $"Cannot open the {_dialect.DisplayName} database at {_dialect.Target} set by {StorageOptions.ConnectionStringKey} " +
                $"(provider {_dialect.Provider}, {StorageOptions.ProviderKey}): {ex.GetBaseException().Message}", ex);
        }
    }

    /// <summary>Applies the missing migrations (a no-op when the schema is current); refuses a newer schema.</summary>
    public Task<MigrationResult> MigrateAsync(CancellationToken cancellationToken = default) =>
        MigrateAsync(null, cancellationToken);

    internal async Task<MigrationResult> MigrateAsync(int? targetVersion, CancellationToken cancellationToken)
    {
        try
        {
            return await new SchemaMigrator(_dialect, _logger).MigrateAsync(targetVersion, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not StorageStartupException)
        {
            throw new StorageStartupException(
                $"Migrating the {_dialect.DisplayName} database at {_dialect.Target} ({StorageOptions.ConnectionStringKey}) " +
                $"failed: {ex.GetBaseException().Message}", ex);
        }
    }

    /// <summary><see cref="CheckAsync"/> then <see cref="MigrateAsync(CancellationToken)"/>: what a host runs before the actor system starts.</summary>
    public async Task<MigrationResult> InitializeAsync(CancellationToken cancellationToken = default)
    {
        _logger.LogInformation("PromptActors storage: {Database} at {Target}", _dialect.DisplayName, _dialect.Target);
        await CheckAsync(cancellationToken);
        return await MigrateAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        // The run store first: it finishes the writes it has queued while the connections are still there.
        await _runs.DisposeAsync();
        await _dialect.DisposeAsync();
    }

    private static string LoadHocon(string name)
    {
        var assembly = typeof(PromptActorsStorage).Assembly;
        using var stream = assembly.GetManifestResourceStream("PromptActors.Persistence." + name)
                           ?? throw new InvalidOperationException($"Embedded resource {name} is missing.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    /// <summary>A HOCON quoted string (JSON string rules).</summary>
    internal static string HoconString(string value)
    {
        var builder = new StringBuilder(value.Length + 2).Append('"');
        foreach (var c in value)
        {
            switch (c)
            {
                case '"': builder.Append("\\\""); break;
                case '\\': builder.Append("\\\\"); break;
                case '\n': builder.Append("\\n"); break;
                case '\r': builder.Append("\\r"); break;
                case '\t': builder.Append("\\t"); break;
                case < ' ': builder.Append($"\\u{(int)c:x4}"); break;
                default: builder.Append(c); break;
            }
        }
        return builder.Append('"').ToString();
    }
}
