using System.Net;
using System.Net.Sockets;

namespace PromptActors.Persistence.Tests.Hosting;

/// <summary>Bad settings and unreachable databases fail at start-up with a message naming the setting, never the password.</summary>
public sealed class StorageConfigurationTests : IDisposable
{
    private const string Secret = "s3cr3t-Pa55";
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "pa-config-" + Guid.NewGuid().ToString("N")[..12]);

    public StorageConfigurationTests() => Directory.CreateDirectory(_folder);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void Unknown_provider_is_refused_naming_the_provider_setting()
    {
        var refused = Assert.Throws<StorageStartupException>(() =>
            PromptActorsStorage.Create(new StorageOptions { Provider = "mysql", ConnectionString = "Server=x" }));

        Assert.Contains(StorageOptions.ProviderKey, refused.Message);
        Assert.Contains("'mysql'", refused.Message);
    }

    [Fact]
    public void Postgres_without_a_connection_string_is_refused_naming_the_setting()
    {
        var refused = Assert.Throws<StorageStartupException>(() =>
            PromptActorsStorage.Create(new StorageOptions { Provider = "postgres" }));

        Assert.Contains(StorageOptions.ConnectionStringKey, refused.Message);
    }

    [Fact]
    public void The_breaker_reset_timeout_is_validated_and_reaches_both_plugins()
    {
        Assert.Contains(new StorageOptions { BreakerResetTimeout = TimeSpan.Zero }.Validate(),
            e => e.StartsWith(StorageOptions.BreakerResetTimeoutKey, StringComparison.Ordinal));
        Assert.Empty(new StorageOptions().Validate());

        var config = PromptActorsStorage.Create(new StorageOptions { BreakerResetTimeout = TimeSpan.FromSeconds(7) }).AkkaConfig();
        Assert.Equal(TimeSpan.FromSeconds(7), config.GetTimeSpan("akka.persistence.journal.sql.circuit-breaker.reset-timeout"));
        Assert.Equal(TimeSpan.FromSeconds(7), config.GetTimeSpan("akka.persistence.snapshot-store.sql.circuit-breaker.reset-timeout"));
        Assert.Equal(10, config.GetInt("akka.persistence.journal.sql.circuit-breaker.max-failures"));
    }

    [Fact]
    public void The_run_write_linger_is_validated()
    {
        Assert.Equal(TimeSpan.FromMilliseconds(3), new StorageOptions().RunWriteLinger);
        Assert.Empty(new StorageOptions { RunWriteLinger = TimeSpan.Zero }.Validate());
        foreach (var bad in new[] { TimeSpan.FromMilliseconds(-1), TimeSpan.FromMilliseconds(101) })
            Assert.Contains(new StorageOptions { RunWriteLinger = bad }.Validate(),
                e => e.StartsWith(StorageOptions.RunWriteLingerKey, StringComparison.Ordinal));
        Assert.Throws<StorageStartupException>(() =>
            PromptActorsStorage.Create(new StorageOptions { RunWriteLinger = TimeSpan.FromSeconds(1) }));
    }

    [Theory]
    [InlineData("postgres", $"Host=127.0.0.1;Password={Secret};Port=not-a-port")]
    [InlineData("postgres", $"Host=127.0.0.1;Password={Secret};Flavour=vanilla")]
    [InlineData("sqlite", $"Data Source=x.db;Password={Secret};Colour=blue")]
    public void Malformed_connection_string_is_refused_naming_the_setting_without_the_password(string provider, string connectionString)
    {
        var refused = Assert.Throws<StorageStartupException>(() =>
            PromptActorsStorage.Create(new StorageOptions { Provider = provider, ConnectionString = connectionString }));

        Assert.Contains(StorageOptions.ConnectionStringKey, refused.Message);
        Assert.DoesNotContain(Secret, refused.Message);
    }

    [Fact]
    public async Task Unreachable_postgres_fails_the_start_up_check_naming_the_setting_without_the_password()
    {
        int closedPort;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            closedPort = ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        await using var storage = PromptActorsStorage.Create(StorageOptions.ForPostgres(
            $"Host=127.0.0.1;Port={closedPort};Database=prompt_actors;Username=app;Password={Secret};Timeout=3"));

        var refused = await Assert.ThrowsAsync<StorageStartupException>(() => storage.InitializeAsync());

        Assert.Contains(StorageOptions.ConnectionStringKey, refused.Message);
        Assert.Contains($"Port={closedPort}", refused.Message);
        Assert.DoesNotContain(Secret, refused.Message);
    }

    [Fact]
    public async Task Unopenable_sqlite_file_fails_the_start_up_check_naming_the_setting()
    {
        var notAFolder = Path.Combine(_folder, "plain-file");
        await File.WriteAllTextAsync(notAFolder, "not a folder");
        await using var storage = PromptActorsStorage.Create(StorageOptions.ForSqlite($"Data Source={notAFolder}/inside/db.sqlite"));

        var refused = await Assert.ThrowsAsync<StorageStartupException>(() => storage.InitializeAsync());

        Assert.Contains(StorageOptions.ConnectionStringKey, refused.Message);
        Assert.Contains(notAFolder, refused.Message);
    }

    [Fact]
    public async Task Default_storage_is_a_sqlite_file_under_data_in_the_working_directory()
    {
        await using var storage = PromptActorsStorage.Create(new StorageOptions());

        Assert.Equal("sqlite", storage.Provider);
        Assert.Equal(Path.Combine(Directory.GetCurrentDirectory(), "data", "promptactors.db"), storage.Target);
    }

    [Fact]
    public async Task Akka_config_selects_the_sql_journal_and_snapshot_store_with_the_exact_connection_string()
    {
        var path = Path.Combine(_folder, "dir with space", "it's \"quoted\" \\ here.db");
        var connectionString = new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder { DataSource = path }.ToString();
        await using var sqlite = PromptActorsStorage.Create(StorageOptions.ForSqlite(connectionString));
        await using var postgres = PromptActorsStorage.Create(StorageOptions.ForPostgres("Host=db;Database=pa;Username=app;Password=x"));

        var config = sqlite.AkkaConfig();
        Assert.Equal("akka.persistence.journal.sql", config.GetString("akka.persistence.journal.plugin"));
        Assert.Equal("akka.persistence.snapshot-store.sql", config.GetString("akka.persistence.snapshot-store.plugin"));
        Assert.Equal("SQLite.MS", config.GetString("akka.persistence.journal.sql.provider-name"));
        Assert.Equal(connectionString, config.GetString("akka.persistence.journal.sql.connection-string"));
        Assert.Equal(connectionString, config.GetString("akka.persistence.snapshot-store.sql.connection-string"));
        Assert.True(config.GetBoolean("akka.persistence.journal.sql.auto-initialize"));
        // Akka.Persistence.Sql's defaults are the fallback: without them the plugin class is missing.
        Assert.Equal("Akka.Persistence.Sql.Journal.SqlWriteJournal, Akka.Persistence.Sql",
            config.GetString("akka.persistence.journal.sql.class"));
        Assert.Equal("PromptActors.Persistence.Journal.FailFastSqlSnapshotStore, PromptActors.Persistence",
            config.GetString("akka.persistence.snapshot-store.sql.class"));
        Assert.Equal("default", config.GetString("akka.persistence.journal.sql.table-mapping"));
        Assert.Equal("off", config.GetString("akka.persistence.journal.sql.replay-filter.mode"));
        Assert.Equal(TimeSpan.FromSeconds(2), config.GetTimeSpan("akka.persistence.journal.sql.circuit-breaker.reset-timeout"));
        Assert.Equal(TimeSpan.FromSeconds(2), config.GetTimeSpan("akka.persistence.snapshot-store.sql.circuit-breaker.reset-timeout"));

        Assert.Equal("PostgreSQL.15", postgres.AkkaConfig().GetString("akka.persistence.snapshot-store.sql.provider-name"));
        // Pooled connections are not reset with DISCARD ALL unless the connection string says otherwise (the stores'
        // own connections also prepare their statements; the journal's do not).
        Assert.Equal("Host=db;Database=pa;Username=app;Password=x;No Reset On Close=true",
            postgres.AkkaConfig().GetString("akka.persistence.journal.sql.connection-string"));
        Assert.False(postgres.AkkaConfig().GetBoolean("akka.persistence.journal.sql.auto-initialize"));
    }
}
