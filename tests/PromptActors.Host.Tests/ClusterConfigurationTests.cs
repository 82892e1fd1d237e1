using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using PromptActors.Persistence;

namespace PromptActors.Host.Tests;

/// <summary>PromptActors:Cluster is validated at start-up with messages that name the key; a cluster refuses SQLite.</summary>
public sealed class ClusterConfigurationTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "promptactors-cluster-config-" + Guid.NewGuid().ToString("N"));

    private WebApplication Build(Dictionary<string, string?> settings)
    {
        Directory.CreateDirectory(_dir);
        var all = new Dictionary<string, string?>
        {
            ["PromptActors:Storage:Provider"] = "sqlite",
            ["PromptActors:Storage:ConnectionString"] = $"Data Source={Path.Combine(_dir, "c.db")}",
            ["PromptActors:Auth:Enabled"] = "false",
            ["PromptActors:Examples:Load"] = "false",
            ["PromptActors:Cluster:Enabled"] = "true",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (k, v) in settings)
            all[k] = v;
        return HostApp.Build(["--urls", "http://127.0.0.1:0"], b => b.Configuration.AddInMemoryCollection(all));
    }

    [Fact]
    public async Task Missing_or_malformed_seed_nodes_and_bad_ports_are_refused_naming_the_key()
    {
        await using var app = Build(new()
        {
            ["PromptActors:Cluster:Port"] = "70000",
            ["PromptActors:Cluster:SeedNodes:0"] = "not-an-address",
            ["PromptActors:Cluster:SeedNodes:1"] = "akka.tcp://other-system@10.0.0.5:4053",
        });
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync());
        Assert.Contains("PromptActors:Cluster:Port must be between 0 and 65535", error.Message);
        Assert.Contains("PromptActors:Cluster:SeedNodes entry 'not-an-address'", error.Message);
        Assert.Contains("names actor system 'other-system'", error.Message);

        await using var none = Build(new());
        var missing = await Assert.ThrowsAsync<OptionsValidationException>(() => none.StartAsync());
        Assert.Contains("PromptActors:Cluster:SeedNodes must list at least one address", missing.Message);
    }

    [Fact]
    public async Task Failure_detection_settings_that_cannot_work_are_refused_naming_the_key()
    {
        await using var app = Build(new()
        {
            ["PromptActors:Cluster:SeedNodes:0"] = "akka.tcp://prompt-actors@127.0.0.1:4053",
            ["PromptActors:Cluster:HeartbeatInterval"] = "00:00:01",
            ["PromptActors:Cluster:AcceptableHeartbeatPause"] = "00:00:01",
            ["PromptActors:Cluster:DownRemovalMargin"] = "-00:00:01",
        });
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => app.StartAsync());
        Assert.Contains("PromptActors:Cluster:AcceptableHeartbeatPause (00:00:01) must be at least twice HeartbeatInterval", error.Message);
        Assert.Contains("PromptActors:Cluster:DownRemovalMargin must not be negative", error.Message);

        await using var zero = Build(new()
        {
            ["PromptActors:Cluster:SeedNodes:0"] = "akka.tcp://prompt-actors@127.0.0.1:4053",
            ["PromptActors:Cluster:HeartbeatInterval"] = "00:00:00",
        });
        Assert.Contains("PromptActors:Cluster:HeartbeatInterval must be at least 10 ms",
            (await Assert.ThrowsAsync<OptionsValidationException>(() => zero.StartAsync())).Message);
    }

    [Fact]
    public void Failure_detection_settings_reach_the_akka_configuration()
    {
        var config = PromptActorsConfig.ClusterConfig(new PromptActors.Engine.PromptActorsOptions.ClusterOptions
        {
            HeartbeatInterval = TimeSpan.FromMilliseconds(700),
            AcceptableHeartbeatPause = TimeSpan.FromSeconds(4),
            StableAfter = TimeSpan.FromSeconds(3),
            DownRemovalMargin = TimeSpan.FromSeconds(1),
        });
        Assert.Equal(TimeSpan.FromMilliseconds(700), config.GetTimeSpan("akka.cluster.failure-detector.heartbeat-interval"));
        Assert.Equal(TimeSpan.FromSeconds(4), config.GetTimeSpan("akka.cluster.failure-detector.acceptable-heartbeat-pause"));
        Assert.Equal(TimeSpan.FromSeconds(3), config.GetTimeSpan("akka.cluster.split-brain-resolver.stable-after"));
        Assert.Equal(TimeSpan.FromSeconds(1), config.GetTimeSpan("akka.cluster.down-removal-margin"));
    }

    [Fact]
    public async Task A_cluster_on_sqlite_is_refused_with_a_message_that_says_to_use_postgres()
    {
        await using var app = Build(new() { ["PromptActors:Cluster:SeedNodes:0"] = "akka.tcp://prompt-actors@127.0.0.1:4053" });
        var error = await Assert.ThrowsAsync<StorageStartupException>(() => app.StartAsync());
        Assert.Contains("PromptActors:Storage:Provider is 'sqlite', but PromptActors:Cluster:Enabled is true", error.Message);
        Assert.Contains("PromptActors:Storage:Provider=postgres", error.Message);
    }

    [Fact]
    public async Task The_shutdown_timeout_covers_the_hand_off_and_is_configurable()
    {
        await using var app = Build(new()
        {
            ["PromptActors:Cluster:SeedNodes:0"] = "akka.tcp://prompt-actors@127.0.0.1:4053, akka.tcp://prompt-actors@127.0.0.1:4054",
            ["PromptActors:Cluster:ShutdownTimeout"] = "00:01:10",
        });
        Assert.Equal(TimeSpan.FromSeconds(70), app.Services.GetRequiredService<IOptions<HostOptions>>().Value.ShutdownTimeout);
        var engine = app.Services.GetRequiredService<IOptions<PromptActors.Engine.PromptActorsOptions>>().Value;
        Assert.Equal(2, engine.Cluster.SeedNodeList.Count);

        await using var tooShort = Build(new()
        {
            ["PromptActors:Cluster:SeedNodes:0"] = "akka.tcp://prompt-actors@127.0.0.1:4053",
            ["PromptActors:Cluster:HandOffTimeout"] = "00:00:30",
            ["PromptActors:Cluster:ShutdownTimeout"] = "00:00:20",
        });
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => tooShort.StartAsync());
        Assert.Contains("PromptActors:Cluster:ShutdownTimeout", error.Message);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
