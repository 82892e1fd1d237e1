using System.Net;
using System.Net.Sockets;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PromptActors.Engine;
using PromptActors.Instances;
using PromptActors.Models;
using PromptActors.Persistence.Hosting;
using PromptActors.Persistence.Tests.Support;
using PromptActors.Prompts;
using PromptActors.Runs;
using PromptActors.Testing;
using PromptActors.Variables;
using PromptActors.Streaming;

namespace PromptActors.Persistence.Tests.Hosting;

/// <summary>The one-call host composition: storage from <c>PromptActors:Storage</c>, migrated before the actor system starts.</summary>
public sealed class HostingTests : IDisposable
{
    private readonly SqliteFiles _files = new();

    public void Dispose() => _files.Dispose();

    private static IHost BuildHost(IDictionary<string, string?> settings, Action<IServiceCollection>? before = null)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        before?.Invoke(builder.Services);
        builder.Services.AddPromptActorsModels();
        builder.Services.AddPromptActorsWithStorage(builder.Configuration);
        return builder.Build();
    }

    private static async Task<long> ScalarAsync(string connectionString, string sql)
    {
        await using var connection = new SqliteConnection(connectionString);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(await command.ExecuteScalarAsync());
    }

    /// <summary>A hosted service registered before the storage: it sees the schema already migrated when it starts.</summary>
    private sealed class SchemaProbe(IOptions<StorageOptions> options) : IHostedService
    {
        public long VersionsAtStart { get; private set; } = -1;

        public async Task StartAsync(CancellationToken cancellationToken) =>
            VersionsAtStart = await ScalarAsync(options.Value.ConnectionString!, "SELECT COUNT(*) FROM schema_migrations");

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    [Fact]
    public async Task Storage_is_migrated_before_any_hosted_service_starts()
    {
        var storage = await _files.CreateDatabaseAsync();
        using var host = BuildHost(new Dictionary<string, string?>
        {
            ["PromptActors:Storage:ConnectionString"] = storage.ConnectionString,
        }, services => services.AddSingleton<SchemaProbe>().AddHostedService(sp => sp.GetRequiredService<SchemaProbe>()));

        await host.StartAsync();

        // The probe starts first of all hosted services (Akka.Hosting's included) and already finds the full schema.
        Assert.Equal(PromptActorsStorage.SchemaVersion, host.Services.GetRequiredService<SchemaProbe>().VersionsAtStart);
        await host.StopAsync();
    }

    [Fact]
    public async Task Host_migrates_the_configured_sqlite_file_and_the_engine_keeps_its_data_across_hosts()
    {
        var storage = await _files.CreateDatabaseAsync();
        var settings = new Dictionary<string, string?>
        {
            ["PromptActors:Storage:Provider"] = "sqlite",
            ["PromptActors:Storage:ConnectionString"] = storage.ConnectionString,
        };

        string runId;
        using (var host = BuildHost(settings))
        {
            await host.StartAsync();
            Assert.IsNotType<InMemoryRunStore>(host.Services.GetRequiredService<IRunStore>());
            Assert.IsNotType<InMemoryPromptStore>(host.Services.GetRequiredService<IPromptStore>());
            var engine = host.Services.GetRequiredService<IPromptExecutionEngine>();

            await engine.SavePromptAsync(new PromptDefinition("echo", "Echo",
                [new PromptMessage(MessageRole.System, "Repeat after the user.")], Settings: new PromptSettings("local")));
            await engine.SetScopeVariablesAsync(ScopeKind.User, "u1", new Dictionary<string, string> { ["name"] = "Ada" });
            var instance = await engine.StartInstanceAsync(new StartInstanceRequest("echo", new InstanceScope("u1")));
            var accepted = await engine.ExecuteMessageAsync(instance.InstanceId, "hello persistent world");
            runId = accepted.RunId!;
            var reply = Assert.IsType<ReplyCompleted>(await engine.WaitForReplyAsync(instance.InstanceId));
            Assert.Equal("hello persistent world", reply.Text);
            await Eventually.AwaitAssertAsync(async () =>
                Assert.Equal(RunTaskStatus.Completed, Assert.Single((await engine.GetRunAsync(runId))!.Tasks).Status));
            await host.StopAsync();
        }
        // The instance's events went to the SQL journal in the same file.
        Assert.True(await ScalarAsync(storage.ConnectionString!, "SELECT COUNT(*) FROM journal") >= 3);

        using (var host = BuildHost(settings))
        {
            await host.StartAsync();
            var engine = host.Services.GetRequiredService<IPromptExecutionEngine>();
            Assert.Equal(1, (await engine.GetPromptAsync("echo"))!.Version);
            Assert.Equal("Ada", (await engine.GetScopeVariablesAsync(ScopeKind.User, "u1"))["name"]);
            var run = Assert.Single(await engine.ListRunsAsync("u1"));
            Assert.Equal(runId, run.Info.RunId);
            Assert.Equal(["hello persistent world", "hello persistent world"], run.Messages.Select(m => m.Content));
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task Host_refuses_to_start_when_postgres_is_unreachable_naming_the_setting()
    {
        int closedPort;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            closedPort = ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        using var host = BuildHost(new Dictionary<string, string?>
        {
            ["PromptActors:Storage:Provider"] = "postgres",
            ["PromptActors:Storage:ConnectionString"] = $"Host=127.0.0.1;Port={closedPort};Database=pa;Username=app;Password=hunter2;Timeout=3",
        });

        var refused = await Assert.ThrowsAsync<StorageStartupException>(() => host.StartAsync());

        Assert.Contains(StorageOptions.ConnectionStringKey, refused.Message);
        Assert.DoesNotContain("hunter2", refused.Message);
    }

    [Fact]
    public async Task Host_refuses_an_unknown_provider_naming_the_setting()
    {
        using var host = BuildHost(new Dictionary<string, string?> { ["PromptActors:Storage:Provider"] = "oracle" });

        var refused = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains(StorageOptions.ProviderKey, refused.Message);
    }
}
