using System.Diagnostics;
using System.Net;
using System.Text.Json;
using PromptActors.Cluster.Tests.Support;
using Xunit.Abstractions;

namespace PromptActors.Cluster.Tests;

/// <summary>
/// A three-node cluster whose example refund tool takes 60 s (a slow payment system) and whose example tools append every
/// call to a file shared by the nodes (a side effect outside the engine).
/// </summary>
public sealed class ToolCluster : ClusterFixture
{
    public string ToolLog { get; } = Path.Combine(Path.GetTempPath(), "pa-tool-log-" + Guid.NewGuid().ToString("N")[..10] + ".txt");

    protected override IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string>
    {
        ["PromptActors:Examples:ToolDelay:refund_order"] = "00:01:00",
        ["PromptActors:Examples:ToolDelay:lookup_order:A-SLOW"] = "00:00:10",
        ["PromptActors:Examples:ToolLog"] = ToolLog,
    };
}

/// <summary>
/// kill -9 of real host processes in the middle of a tool loop on PostgreSQL: a pending approval survives its node's death
/// and is decided through another node exactly once; the approved at-most-once call, running when its node dies, is not
/// made again (outcome_unknown); the completed call is never repeated; the turn completes; one ledger row per call.
/// </summary>
public sealed class ToolFailoverTests(ToolCluster cluster, ITestOutputHelper output) : IClassFixture<ToolCluster>
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(120);
    private HostNode[] Nodes => cluster.Nodes;
    private EngineClient Client => cluster.Client;

    [Fact]
    public async Task An_approval_outlives_its_node_and_a_refund_running_when_its_node_dies_is_never_made_twice()
    {
        await cluster.EnsureAllRunningAsync(ReadyTimeout);
        await Client.JsonAsync(Nodes[0], HttpMethod.Put, "/v1/prompts/refunds", new
        {
            name = "refunds",
            messages = new[] { new { role = "system", content = "Support." } },
            settings = new { model = "local", tools = new[] { "lookup_order", "refund_order" } },
        });
        var owner = Nodes[1];
        var id = await cluster.InstanceOnAsync(owner, "refunds");
        var accepted = await Client.JsonAsync(Nodes[0], HttpMethod.Post, $"/v1/instances/{id}/messages",
            new { userInput = """lookup_order {"orderId":"A-1"} refund_order {"orderId":"A-1"}""" });
        var taskId = accepted.GetProperty("taskId").GetString()!;
        var waiting = await EventuallyAsync(async () =>
        {
            var view = await Client.GetInstanceAsync(Nodes[0], id);
            return view.GetProperty("status").GetString() == "awaiting_approval" ? view : (JsonElement?)null;
        }, "the refund did not wait for approval");
        var callId = waiting.GetProperty("execution").GetProperty("pendingToolCalls")[0].GetProperty("callId").GetString()!;
        Assert.Equal(["lookup_order"], Calls(taskId));

        // The node holding the pending approval dies; the decision goes through another node.
        await owner.KillAsync();
        var clock = Stopwatch.StartNew();
        await EventuallyAsync(async () =>
        {
            try
            {
                await Client.JsonAsync(Nodes[2], HttpMethod.Post, $"/v1/instances/{id}/approvals/{callId}", new { decision = "approve" });
                return true;
            }
            catch (EngineHttpException e) when (e.Code is "already_decided") // an earlier attempt landed; its answer was lost
            {
                return true;
            }
            catch (Exception e) when (e is EngineHttpException or HttpRequestException or TaskCanceledException)
            {
                return (bool?)null; // the instance is still moving to a survivor
            }
        }, "the approval was not accepted after the owner died", TimeSpan.FromSeconds(90));
        output.WriteLine($"approval decided through {Nodes[2]} {clock.Elapsed.TotalSeconds:F1} s after {owner} was killed");
        await EventuallyAsync(() => Task.FromResult(Calls(taskId).Contains("refund_order") ? true : (bool?)null), "the refund did not start");
        var second = await Assert.ThrowsAsync<EngineHttpException>(() =>
            Client.JsonAsync(Nodes[0], HttpMethod.Post, $"/v1/instances/{id}/approvals/{callId}", new { decision = "reject" }));
        Assert.Equal((HttpStatusCode.Conflict, "already_decided"), (second.Status, second.Code));

        // The refund runs (60 s) on the instance's new node: that node dies too (the first is back first, for a majority).
        var runningOn = cluster.NodeAt((await Client.GetInstanceAsync(Nodes[2], id)).GetProperty("node").GetString()!);
        await cluster.RestartAsync(owner, ReadyTimeout);
        await runningOn.KillAsync();
        output.WriteLine($"{runningOn} killed while the refund ran");

        var done = await EventuallyAsync(async () =>
        {
            try
            {
                var view = await Client.GetInstanceAsync(cluster.Routable.First(n => n != runningOn), id);
                return view.GetProperty("status").GetString() == "completed" ? view : (JsonElement?)null;
            }
            catch (Exception e) when (e is EngineHttpException or HttpRequestException or TaskCanceledException)
            {
                return null;
            }
        }, "the turn did not complete after the second kill", TimeSpan.FromSeconds(90));
        var reply = done.GetProperty("conversation").GetProperty("messages").EnumerateArray().Last().GetProperty("content").GetString()!;
        Assert.Contains("lookup_order returned", reply);
        Assert.Contains("refund_order returned outcome_unknown", reply);
        Assert.Equal(["lookup_order", "refund_order"], Calls(taskId)); // each made once, across two kills
        Assert.Equal([taskId + ":call_1", taskId + ":call_2"], KeysOf(taskId)); // their keys

        // The outbox writes the final row and its ledger rows after the turn completes.
        List<string> ledger = [];
        await EventuallyAsync(async () =>
        {
            ledger = await cluster.QueryAsync(
                $"SELECT call_id, tool, status, COALESCE(decision, '') FROM ai_tool_calls WHERE task_id = '{taskId}' ORDER BY ordinal",
                r =>
                {
                    var rows = new List<string>();
                    while (r.Read())
                        rows.Add($"{r.GetString(0)} {r.GetString(1)} {r.GetString(2)} {r.GetString(3)}".TrimEnd());
                    return rows;
                });
            return ledger.Count >= 2 ? true : (bool?)null;
        }, "the ledger rows were not written");
        Assert.Equal(["call_1 lookup_order completed", "call_2 refund_order outcome_unknown approved"], ledger);
        var task = await cluster.QueryAsync($"SELECT status, COUNT(*) OVER () FROM ai_tasks WHERE task_id = '{taskId}'",
            r => { r.Read(); return (r.GetString(0), r.GetInt64(1)); });
        Assert.Equal(("completed", 1L), task);

        await cluster.RestartAsync(runningOn, ReadyTimeout);
    }

    [Fact]
    public async Task An_idempotent_call_running_when_its_node_dies_is_made_again_with_the_same_key_and_the_completed_one_never()
    {
        await cluster.EnsureAllRunningAsync(ReadyTimeout);
        await Client.JsonAsync(Nodes[0], HttpMethod.Put, "/v1/prompts/lookups", new
        {
            name = "lookups",
            messages = new[] { new { role = "system", content = "Support." } },
            settings = new { model = "local", tools = new[] { "lookup_order" } },
        });
        var owner = Nodes[2];
        var id = await cluster.InstanceOnAsync(owner, "lookups");
        var accepted = await Client.JsonAsync(Nodes[0], HttpMethod.Post, $"/v1/instances/{id}/messages",
            new { userInput = """lookup_order {"orderId":"A-2"} lookup_order {"orderId":"A-SLOW"}""" });
        var taskId = accepted.GetProperty("taskId").GetString()!;
        // A (A-2) completed and is journaled; B (A-SLOW, 10 s) runs.
        var seen = "";
        await EventuallyAsync(async () =>
        {
            var view = await Client.GetInstanceAsync(Nodes[0], id);
            var results = view.GetProperty("conversation").GetProperty("messages").EnumerateArray()
                .Count(m => m.GetProperty("role").GetString() == "tool");
            var now = $"{view.GetProperty("status").GetString()}, {results} result(s), {KeysOf(taskId).Count} call(s) started: "
                      + string.Join(" | ", view.GetProperty("conversation").GetProperty("messages").EnumerateArray()
                          .Where(m => m.GetProperty("role").GetString() == "tool").Select(m => m.GetProperty("content").GetString()));
            if (now != seen)
                output.WriteLine(seen = now);
            return results == 1 && KeysOf(taskId).Count == 2 ? true : (bool?)null;
        }, "the first lookup did not complete while the second ran");

        await owner.KillAsync();
        var clock = Stopwatch.StartNew();
        var done = await EventuallyAsync(async () =>
        {
            try
            {
                var view = await Client.GetInstanceAsync(cluster.Routable.First(n => n != owner), id);
                return view.GetProperty("status").GetString() == "completed" ? view : (JsonElement?)null;
            }
            catch (Exception e) when (e is EngineHttpException or HttpRequestException or TaskCanceledException)
            {
                return null;
            }
        }, "the turn did not complete after the kill", TimeSpan.FromSeconds(90));
        output.WriteLine($"{owner} killed; the turn completed on a survivor {clock.Elapsed.TotalSeconds:F1} s later");

        var reply = done.GetProperty("conversation").GetProperty("messages").EnumerateArray().Last().GetProperty("content").GetString()!;
        Assert.Contains("A-2", reply);
        Assert.Contains("A-SLOW", reply);
        // A once; B twice, both times with the same idempotency key (an external system deduplicates on it).
        // (The two calls start together, so their first lines may come in either order; the re-run comes last.)
        var keys = KeysOf(taskId);
        Assert.Equal([taskId + ":call_1", taskId + ":call_2", taskId + ":call_2"], keys.Order(StringComparer.Ordinal));
        Assert.Equal(taskId + ":call_2", keys[^1]);
        List<string> ledger = [];
        await EventuallyAsync(async () =>
        {
            ledger = await cluster.QueryAsync(
                $"SELECT call_id, status, policy FROM ai_tool_calls WHERE task_id = '{taskId}' ORDER BY ordinal",
                r =>
                {
                    var rows = new List<string>();
                    while (r.Read())
                        rows.Add($"{r.GetString(0)} {r.GetString(1)} {r.GetString(2)}");
                    return rows;
                });
            return ledger.Count >= 2 ? true : (bool?)null;
        }, "the ledger rows were not written");
        Assert.Equal(["call_1 completed idempotent", "call_2 completed idempotent"], ledger);
        // One row per model call: the turn's own and the one after the tools.
        var steps = await cluster.QueryAsync(
            $"SELECT step, status FROM ai_tasks WHERE task_id = '{taskId}' OR turn_task_id = '{taskId}' ORDER BY step",
            r => { var l = new List<string>(); while (r.Read()) l.Add($"{r.GetInt32(0)} {r.GetString(1)}"); return l; });
        Assert.Equal(["0 completed", "1 completed"], steps);

        await cluster.RestartAsync(owner, ReadyTimeout);
    }

    /// <summary>The idempotency keys the example tools were called with for task <paramref name="taskId"/>, in order.</summary>
    private List<string> KeysOf(string taskId) => File.Exists(cluster.ToolLog)
        ? File.ReadAllLines(cluster.ToolLog).Select(l => l.Split('\t')[1]).Where(k => k.StartsWith(taskId + ":", StringComparison.Ordinal)).ToList()
        : [];

    /// <summary>The example tools called for task <paramref name="taskId"/>, in order (the log is shared by the tests).</summary>
    private List<string> Calls(string taskId) => File.Exists(cluster.ToolLog)
        ? File.ReadAllLines(cluster.ToolLog).Where(l => l.Split('\t')[1].StartsWith(taskId + ":", StringComparison.Ordinal))
            .Select(l => l.Split('\t')[0]).ToList()
        : [];

    private async Task<T> EventuallyAsync<T>(Func<Task<T?>> attempt, string message, TimeSpan? within = null) where T : struct
    {
        var clock = Stopwatch.StartNew();
        var limit = within ?? TimeSpan.FromSeconds(30);
        while (true)
        {
            if (await attempt() is { } value)
                return value;
            if (clock.Elapsed > limit)
                Assert.Fail($"{message} (after {limit})\n{cluster.Logs(25)}");
            await Task.Delay(200);
        }
    }
}
