using System.Diagnostics;
using System.Text.Json;
using PromptActors.Cluster.Tests.Support;
using Xunit.Abstractions;

namespace PromptActors.Cluster.Tests;

/// <summary>A three-node cluster with a small reaper limit (3 completed instances per node).</summary>
public sealed class RoutingCluster : ClusterFixture
{
    protected override IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string>
    {
        ["PromptActors:Models:local:WordDelay"] = "00:00:00.010",
        ["PromptActors:Reaper:MaxCompletedPerNode"] = "3",
    };
}

/// <summary>Any node accepts any request; each instance lives on exactly one node; caches and the reaper work per node.</summary>
public sealed class RoutingTests(RoutingCluster cluster, ITestOutputHelper output) : IClassFixture<RoutingCluster>
{
    private HostNode[] Nodes => cluster.Nodes;
    private EngineClient Client => cluster.Client;

    [Fact]
    public async Task Instances_spread_over_all_nodes_and_any_node_serves_any_instance_streaming_included()
    {
        await Client.SavePromptAsync(Nodes[0], "spread", "You are terse.");
        var owners = new Dictionary<string, string>();
        for (var i = 0; i < 18; i++)
        {
            var view = await Client.StartInstanceAsync(Nodes[i % 3], "spread");
            owners[view.GetProperty("instanceId").GetString()!] = view.GetProperty("node").GetString()!;
        }
        Assert.Equal(Nodes.Select(n => n.Address).Order(), owners.Values.Distinct().Order());

        // Every node answers for every instance, and each instance reports the same owner whoever asks.
        foreach (var (id, owner) in owners)
        {
            foreach (var node in Nodes)
            {
                var (view, response) = await Client.SendAsync(node, HttpMethod.Get, $"/v1/instances/{id}");
                using (response)
                {
                    Assert.Equal(owner, view.GetProperty("node").GetString());
                    Assert.Equal(node.Address, response.Headers.GetValues(EngineClient.NodeHeader).Single());
                }
            }
        }

        // A reply streams through a node that does not host the instance (the SourceRef crosses nodes).
        foreach (var owner in Nodes)
        {
            var id = owners.First(kv => kv.Value == owner.Address).Key;
            foreach (var via in Nodes.Where(n => n != owner))
            {
                var text = $"from {via.Index} to {owner.Index} over the wire";
                var outcome = await Client.SendStreamingAsync(via, id, text);
                Assert.True(outcome.Completed, $"{outcome.Terminal} {outcome.Code} {outcome.Detail}");
                Assert.Equal(text, outcome.Text);
                Assert.Equal(via.Address, outcome.ServedBy);
                Assert.True(outcome.Chunks >= 2, "streamed in chunks");
            }
            // A late subscriber through the third node replays the last reply.
            var replay = await Client.SubscribeAsync(Nodes.First(n => n != owner), id);
            Assert.True(replay.Completed);
            var conversation = (await Client.GetInstanceAsync(owner, id)).GetProperty("conversation").GetProperty("messages");
            Assert.Equal(4, conversation.GetArrayLength());
        }
    }

    [Fact]
    public async Task Large_messages_replies_and_views_cross_nodes()
    {
        // Akka.Remote drops a message above its frame size silently (128,000 bytes by default): these would time out.
        await Client.SavePromptAsync(Nodes[0], "large", "Echo.");
        var view = await Client.StartInstanceAsync(Nodes[0], "large");
        var id = view.GetProperty("instanceId").GetString()!;
        var via = Nodes.First(n => n.Address != view.GetProperty("node").GetString());
        var big = "big " + new string('x', 200_000) + " end";

        var outcome = await Client.SendStreamingAsync(via, id, big);
        Assert.True(outcome.Completed, $"{outcome.Terminal} {outcome.Code} {outcome.Detail}");
        Assert.Equal(big, outcome.Text);
        var messages = (await Client.GetInstanceAsync(via, id)).GetProperty("conversation").GetProperty("messages");
        Assert.Equal(big, messages[1].GetProperty("content").GetString());
    }

    [Fact]
    public async Task Prompt_saves_and_scope_variable_writes_invalidate_every_nodes_cache()
    {
        await Client.SavePromptAsync(Nodes[0], "cached", "Version one for {{org_name}}.");
        await Client.JsonAsync(Nodes[0], HttpMethod.Put, "/v1/scopes/org/acme/variables", new Dictionary<string, string> { ["org_name"] = "Acme-1" });

        // One instance on each node: each node's caches now hold prompt v1 and Acme-1.
        var onNode = await OneInstancePerNodeAsync("cached", "acme");
        foreach (var (node, id) in onNode)
        {
            var view = await Client.GetInstanceAsync(node, id);
            Assert.Equal(1, view.GetProperty("promptVersion").GetInt32());
            Assert.Equal("Acme-1", view.GetProperty("variables").GetProperty("merged").GetProperty("org_name").GetString());
        }

        // Writes through one node reach the caches of all (the scoped-variable TTL is 5 minutes: only the invalidation explains a change).
        await Client.SavePromptAsync(Nodes[1], "cached", "Version two for {{org_name}}.");
        await Client.JsonAsync(Nodes[2], HttpMethod.Put, "/v1/scopes/org/acme/variables", new Dictionary<string, string> { ["org_name"] = "Acme-2" });
        foreach (var (node, id) in onNode)
        {
            await Eventually(async () =>
            {
                var view = await Client.GetInstanceAsync(Nodes[0], id);
                return view.GetProperty("variables").GetProperty("merged").GetProperty("org_name").GetString() == "Acme-2";
            }, $"{node} still shows the old org variable");
        }
        var fresh = await OneInstancePerNodeAsync("cached", "acme");
        foreach (var (node, id) in fresh)
            Assert.Equal(2, (await Client.GetInstanceAsync(node, id)).GetProperty("promptVersion").GetInt32());
    }

    [Fact]
    public async Task The_reaper_works_per_node()
    {
        await Client.SavePromptAsync(Nodes[0], "reaped", "Reply briefly.");
        var ids = new List<(string Id, string Owner)>();
        for (var i = 0; i < 15; i++)
        {
            // One-shot instances: over the limit these are reaped (a conversation would only leave memory).
            var view = await Client.StartInstanceAsync(Nodes[i % 3], "reaped", retain: false, autoRun: true, allowChat: false);
            ids.Add((view.GetProperty("instanceId").GetString()!, view.GetProperty("node").GetString()!));
        }
        Assert.True(ids.Select(i => i.Owner).Distinct().Count() == 3, "instances on every node");

        // Each node keeps at most 3 completed instances (MaxCompletedPerNode); the others it owns are reaped (410).
        (int Live, int Expired) perNodeMax = default;
        await Eventually(async () =>
        {
            var live = new Dictionary<string, int>();
            var expired = 0;
            foreach (var (id, owner) in ids)
            {
                try
                {
                    var view = await Client.GetInstanceAsync(Nodes[0], id);
                    if (view.GetProperty("status").GetString() != "completed")
                        return false;
                    live[owner] = live.GetValueOrDefault(owner) + 1;
                }
                catch (EngineHttpException e) when (e.Code == "instance_expired")
                {
                    expired++;
                }
            }
            perNodeMax = (live.Count == 0 ? 0 : live.Values.Max(), expired);
            return live.Values.All(c => c <= 3) && expired >= ids.Count - 9;
        }, "completed instances beyond 3 per node were not reaped");
        output.WriteLine($"most live completed instances on one node: {perNodeMax.Live}; reaped: {perNodeMax.Expired} of {ids.Count}");
    }

    private async Task<Dictionary<HostNode, string>> OneInstancePerNodeAsync(string promptId, string orgId)
    {
        var found = new Dictionary<HostNode, string>();
        for (var i = 0; i < 60 && found.Count < Nodes.Length; i++)
        {
            var view = await Client.StartInstanceAsync(Nodes[i % 3], promptId, orgId: orgId);
            var owner = cluster.NodeAt(view.GetProperty("node").GetString()!);
            found.TryAdd(owner, view.GetProperty("instanceId").GetString()!);
        }
        Assert.Equal(Nodes.Length, found.Count);
        return found;
    }

    private static async Task Eventually(Func<Task<bool>> condition, string message)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(20))
                Assert.Fail(message);
            await Task.Delay(200);
        }
    }
}
