using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using PromptActors.Host.Auth;

namespace PromptActors.Host.Tests;

/// <summary>
/// The README's logging example: actors log under their own class's category, so one class can be turned up while
/// everything else stays at Warning.
/// </summary>
public sealed class LoggingTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "promptactors-logging-" + Guid.NewGuid().ToString("N"));
    private readonly CapturingLoggerProvider _logs = new();
    private WebApplication? _app;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        // As in the README: --Logging:LogLevel:Default=Warning --Logging:LogLevel:PromptActors.Instances.ExecutionInstanceActor=Information
        _app = HostApp.Build(["--urls", "http://127.0.0.1:0",
            "--Logging:LogLevel:Default=Warning",
            "--Logging:LogLevel:PromptActors.Instances.ExecutionInstanceActor=Information"], builder =>
        {
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["PromptActors:Storage:ConnectionString"] = $"Data Source={Path.Combine(_dir, "host.db")}",
                ["PromptActors:Auth:ApiKeys:0:KeyHash"] = ApiKeyHasher.Hash(HostFixture.KeyU1),
                ["PromptActors:Auth:ApiKeys:0:UserId"] = "u1",
                ["PromptActors:Examples:Path"] = HostFixture.ExamplesPath(),
            });
            builder.Logging.AddProvider(_logs);
        });
        await _app.StartAsync();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        _http = new HttpClient { BaseAddress = new Uri(address) };
        _http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", HostFixture.KeyU1);
    }

    [Fact]
    public async Task An_actor_logs_under_its_own_class_so_its_level_can_be_set_alone()
    {
        var created = await (await _http.PostJson("/v1/instances", """{"promptId":"travel-advisor"}""")).Json();
        var id = created.GetProperty("instanceId").GetString()!;
        Assert.Equal(HttpStatusCode.NoContent, (await _http.DeleteAsync($"/v1/instances/{id}")).StatusCode);

        // The instance's information entry ("Instance … reaped") passes its class's Information level…
        // The log names the instance as the engine keeps it: under the key's tenant tag.
        var logged = PromptActors.Instances.TenantIds.Internal(new PromptActors.Variables.InstanceScope("u1"), id);
        var reaped = await Eventually(() => _logs.Entries.FirstOrDefault(e => e.Message.Contains($"Instance {logged} reaped", StringComparison.Ordinal)));
        Assert.Equal("PromptActors.Instances.ExecutionInstanceActor", reaped.Category);
        Assert.Equal(LogLevel.Information, reaped.Level);
        // …while information from every other category, Akka's own included, stays below Default=Warning.
        Assert.DoesNotContain(_logs.Entries, e => e.Level < LogLevel.Warning && e.Category != "PromptActors.Instances.ExecutionInstanceActor");
        Assert.DoesNotContain(_logs.Entries, e => e.Category == "Akka.Actor.ActorSystem" && e.Message.Contains("reaped", StringComparison.Ordinal));
    }

    private static async Task<T> Eventually<T>(Func<T?> probe) where T : class
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (true)
        {
            if (probe() is { } found)
                return found;
            Assert.True(DateTime.UtcNow < deadline, "the expected log entry did not arrive");
            await Task.Delay(50);
        }
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
