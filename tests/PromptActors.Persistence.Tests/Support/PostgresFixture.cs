using PromptActors.Persistence;

namespace PromptActors.Persistence.Tests.Support;

/// <summary>
/// One PostgreSQL server for every test class of the <see cref="PostgresCollection"/> (started once, stopped at the end);
/// each test gets its own fresh database.
/// </summary>
public sealed class PostgresFixture : ITestDatabases, IAsyncLifetime
{
    private PostgresServer? _server;

    public PostgresServer Server => _server ?? throw new InvalidOperationException("The PostgreSQL server has not started.");

    public string Provider => StorageOptions.Postgres;

    public async Task InitializeAsync() => _server = await PostgresServer.StartAsync();

    public async Task<StorageOptions> CreateDatabaseAsync() => StorageOptions.ForPostgres(await Server.CreateDatabaseAsync());

    public async Task DisposeAsync()
    {
        if (_server is not null)
            await _server.DisposeAsync();
    }
}

/// <summary>
/// The test classes that share the PostgreSQL server. They run one after another (an xunit collection), which also keeps
/// WAL measurements free of other writers.
/// </summary>
[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresFixture>
{
    public const string Name = "postgres";
}
