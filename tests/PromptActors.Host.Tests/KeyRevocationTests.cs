using System.Diagnostics;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using PromptActors.Host.Auth;
using PromptActors.TestSupport;

namespace PromptActors.Host.Tests;

/// <summary>
/// Three hosts on one PostgreSQL database (a real server on a free loopback port): a key issued on one is accepted by all,
/// and once revoked on another, every one of them refuses it within a second.
/// </summary>
public sealed class KeyRevocationTests : IAsyncLifetime
{
    private const string AdminKey = "revocation-admin-key";
    private PostgresServer _postgres = null!;
    private readonly List<WebApplication> _nodes = new();
    private readonly List<Uri> _addresses = new();
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "pa-keys-" + Guid.NewGuid().ToString("N")[..8]);

    public async Task InitializeAsync()
    {
        _postgres = await PostgresServer.StartAsync();
        var connection = await _postgres.CreateDatabaseAsync();
        for (var i = 0; i < 3; i++)
        {
            var app = HostApp.Build(["--urls", "http://127.0.0.1:0"], builder => builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["PromptActors:Storage:Provider"] = "postgres",
                ["PromptActors:Storage:ConnectionString"] = connection,
                ["PromptActors:Auth:Enabled"] = "true",
                ["PromptActors:Auth:ApiKeys:0:KeyHash"] = ApiKeyHasher.Hash(AdminKey),
                ["PromptActors:Auth:ApiKeys:0:UserId"] = "ops",
                ["PromptActors:Auth:ApiKeys:0:Role"] = "admin",
                ["PromptActors:Auth:DevKeyFile"] = Path.Combine(_dir, $"dev{i}.json"),
                ["PromptActors:Examples:Load"] = "false",
                ["Logging:LogLevel:Default"] = "Warning",
            }));
            await app.StartAsync();
            _nodes.Add(app);
            _addresses.Add(new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()));
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var node in _nodes)
        {
            await node.StopAsync();
            await node.DisposeAsync();
        }
        await _postgres.DisposeAsync();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    private HttpClient Client(int node, string key) => new()
    {
        BaseAddress = _addresses[node],
        Timeout = TimeSpan.FromSeconds(30),
        DefaultRequestHeaders = { Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key) },
    };

    [Fact]
    public async Task A_key_revoked_on_one_node_is_refused_on_every_node_within_a_second()
    {
        var issued = await (await Client(0, AdminKey).PostJson("/v1/keys", """{"scope":{"userId":"u1","orgId":"o1"},"role":"runner"}""")).Json();
        var id = issued.GetProperty("id").GetString()!;
        var key = issued.GetProperty("key").GetString()!;
        for (var node = 0; node < 3; node++)
            Assert.Equal(HttpStatusCode.OK, (await Client(node, key).GetAsync("/v1/runs")).StatusCode); // each node has it cached now
        // A task it causes records its id (in PostgreSQL's ai_tasks.key_id).
        var editorKey = (await (await Client(2, AdminKey).PostJson("/v1/keys", """{"scope":{"userId":"u1","orgId":"o1"},"role":"editor"}""")).Json())
            .GetProperty("key").GetString()!;
        Assert.Equal(HttpStatusCode.OK, (await Client(2, editorKey).PutJson("/v1/prompts/rk", """{"name":"R","messages":[{"role":"system","content":"Hi"}],"settings":{"model":"local"}}""")).StatusCode);
        var runner = Client(2, key);
        var start = await runner.PostJson("/v1/instances", """{"scope":{"userId":"u1","orgId":"o1"},"promptId":"rk","instanceId":"rk-1","executionConfig":{"autoRun":true}}""");
        Assert.True(start.IsSuccessStatusCode, await start.Content.ReadAsStringAsync());
        await runner.GetStringAsync("/v1/instances/rk-1/stream");
        var runId = (await (await runner.GetAsync("/v1/instances/rk-1")).Json()).GetProperty("runTracking").GetProperty("runId").GetString();
        var runResponse = await runner.GetAsync($"/v1/runs/{runId}");
        Assert.True(runResponse.IsSuccessStatusCode, $"run {runId}: {(int)runResponse.StatusCode} {await runResponse.Content.ReadAsStringAsync()}");
        var run = await runResponse.Json();
        Assert.True(run.TryGetProperty("tasks", out var tasks), run.ToString());
        Assert.Equal(id, Assert.Single(tasks.EnumerateArray()).GetProperty("keyId").GetString());

        Assert.Equal(HttpStatusCode.NoContent, (await Client(1, AdminKey).DeleteAsync($"/v1/keys/{id}")).StatusCode);
        var revoked = Stopwatch.StartNew();
        var refusedAfter = new TimeSpan[3];
        await Task.WhenAll(Enumerable.Range(0, 3).Select(async node =>
        {
            var client = Client(node, key);
            while ((await client.GetAsync("/v1/runs")).StatusCode != HttpStatusCode.Unauthorized)
            {
                Assert.True(revoked.Elapsed < TimeSpan.FromSeconds(5), $"node {node} still accepts the revoked key after 5 s");
                await Task.Delay(20);
            }
            refusedAfter[node] = revoked.Elapsed;
        }));
        Assert.All(refusedAfter, t => Assert.True(t < TimeSpan.FromSeconds(1), $"refused after {string.Join(", ", refusedAfter)}"));
        // And it stays refused.
        for (var node = 0; node < 3; node++)
            Assert.Equal(HttpStatusCode.Unauthorized, (await Client(node, key).GetAsync("/v1/runs")).StatusCode);
    }
}
