using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using PromptActors.Cluster.Tests.Support;
using Xunit.Abstractions;

namespace PromptActors.Cluster.Tests;

/// <summary>A three-node cluster with auth on and one configured admin key.</summary>
public sealed class AuthCluster : ClusterFixture
{
    public const string AdminKey = "cluster-admin-key";

    public AuthCluster() => Client.BearerKey = AdminKey; // readiness reads /clusterz, an admin endpoint

    protected override IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string>
    {
        ["PromptActors:Auth:Enabled"] = "true",
        ["PromptActors:Auth:ApiKeys:0:KeyHash"] = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(AdminKey))),
        ["PromptActors:Auth:ApiKeys:0:UserId"] = "ops",
        ["PromptActors:Auth:ApiKeys:0:Role"] = "admin",
    };
}

/// <summary>Keys issued on one node work on every node, and a revocation reaches every node within a second.</summary>
public sealed class KeyTests(AuthCluster cluster, ITestOutputHelper output) : IClassFixture<AuthCluster>
{
    private static HttpClient Client(HostNode node, string key) => new()
    {
        BaseAddress = node.BaseUri,
        Timeout = TimeSpan.FromSeconds(30),
        DefaultRequestHeaders = { Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key) },
    };

    [Fact]
    public async Task A_key_revoked_on_one_node_gets_401_on_every_node_of_the_cluster_within_a_second()
    {
        var nodes = cluster.Nodes;
        var issue = await Client(nodes[0], AuthCluster.AdminKey).PostAsJsonAsync("/v1/keys",
            new { name = "lifecycle", scope = new { userId = "u1", orgId = "o1" }, role = "runner" });
        Assert.Equal(HttpStatusCode.Created, issue.StatusCode);
        var issued = JsonDocument.Parse(await issue.Content.ReadAsStringAsync()).RootElement;
        var id = issued.GetProperty("id").GetString()!;
        var key = issued.GetProperty("key").GetString()!;
        foreach (var node in nodes)
            Assert.Equal(HttpStatusCode.OK, (await Client(node, key).GetAsync("/v1/runs")).StatusCode);
        var listed = await (await Client(nodes[2], AuthCluster.AdminKey).GetAsync("/v1/keys")).Content.ReadAsStringAsync();
        Assert.Contains(id, listed);
        Assert.DoesNotContain(key, listed);

        Assert.Equal(HttpStatusCode.NoContent, (await Client(nodes[1], AuthCluster.AdminKey).DeleteAsync($"/v1/keys/{id}")).StatusCode);
        var revoked = Stopwatch.StartNew();
        var refusedAfter = new TimeSpan[nodes.Length];
        await Task.WhenAll(nodes.Select(async (node, i) =>
        {
            var client = Client(node, key);
            while ((await client.GetAsync("/v1/runs")).StatusCode != HttpStatusCode.Unauthorized)
            {
                Assert.True(revoked.Elapsed < TimeSpan.FromSeconds(5), $"{node} still accepts the revoked key after 5 s");
                await Task.Delay(20);
            }
            refusedAfter[i] = revoked.Elapsed;
        }));
        output.WriteLine($"FIGURES key revocation refused after {string.Join(", ", refusedAfter.Select(t => $"{t.TotalMilliseconds:F0} ms"))}");
        Assert.All(refusedAfter, t => Assert.True(t < TimeSpan.FromSeconds(1), $"refused after {string.Join(", ", refusedAfter)}"));
        foreach (var node in nodes)
            Assert.Equal(HttpStatusCode.Unauthorized, (await Client(node, key).GetAsync("/v1/runs")).StatusCode);
    }
}
