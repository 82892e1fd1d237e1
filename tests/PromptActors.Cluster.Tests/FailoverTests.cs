using System.Diagnostics;
using PromptActors.Cluster.Tests.Support;
using Xunit.Abstractions;

namespace PromptActors.Cluster.Tests;

/// <summary>A three-node cluster for crash and restart tests: replies streamed word by word (20 ms a word).</summary>
public sealed class FailoverCluster : ClusterFixture
{
    protected override IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string>
    {
        ["PromptActors:Models:local:WordDelay"] = "00:00:00.020",
    };
}

/// <summary>
/// kill -9 and SIGTERM of real host processes under streaming load. Invariants: a reply the client saw complete is in its
/// conversation and in ai_tasks exactly once; run totals equal their task rows; no task row stays pending or streaming
/// (the task sweeper marks a dead node's running tasks interrupted without any client touching the instance).
/// </summary>
public sealed partial class FailoverTests(FailoverCluster cluster, ITestOutputHelper output) : IClassFixture<FailoverCluster>
{
    // Failure detection (~5 s on a loaded machine) + stable-after (2 s) + removal and re-allocation + sweeper (1 s + 2 s stale).
    private static readonly TimeSpan SweeperBound = TimeSpan.FromSeconds(40);
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(120);

    private HostNode[] Nodes => cluster.Nodes;
    private EngineClient Client => cluster.Client;

    [Fact]
    public async Task A_stream_read_through_one_node_ends_with_interrupted_when_the_hosting_node_is_killed()
    {
        await cluster.EnsureAllRunningAsync(ReadyTimeout);
        await Client.SavePromptAsync(Nodes[0], "far", "Echo.");
        var reader = Nodes[0];
        var host = Nodes[1];
        var id = await cluster.InstanceOnAsync(host, "far");

        var words = string.Join(' ', Enumerable.Range(0, 400).Select(i => $"w{i}")); // ~8 s at 20 ms a word
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var streaming = Client.SendStreamingAsync(reader, id, words, timeout.Token);
        await Eventually(async () => (await Client.GetInstanceAsync(reader, id)).GetProperty("streamingText").GetString() is { Length: > 0 },
            "the reply did not start streaming");

        var clock = Stopwatch.StartNew();
        await host.KillAsync();
        var outcome = await streaming;
        var toError = clock.Elapsed;
        Assert.Equal("error", outcome.Terminal);
        Assert.Equal("interrupted", outcome.Code);
        output.WriteLine($"kill -9 of {host} → the stream read through {reader} ended with 'interrupted' after {toError.TotalSeconds:F1} s ({outcome.Chunks} chunks)");

        // Without any client touching the instance, the sweeper has it recover on a survivor and the task marked interrupted.
        var taskId = outcome.TaskId!;
        await Eventually(async () => await cluster.QueryAsync($"SELECT status FROM ai_tasks WHERE task_id = '{taskId}'",
            r => r.Read() ? r.GetString(0) : "") == "failed", "the interrupted task row was not marked failed", SweeperBound);
        var toFailed = clock.Elapsed;
        var error = await cluster.QueryAsync($"SELECT response_errors ->> 'code' FROM ai_tasks WHERE task_id = '{taskId}'", r => { r.Read(); return r.GetString(0); });
        Assert.Equal("interrupted", error);
        var view = await Client.GetInstanceAsync(reader, id);
        Assert.NotEqual(host.Address, view.GetProperty("node").GetString());
        Assert.Equal("ready", view.GetProperty("status").GetString());
        output.WriteLine($"task row failed/interrupted {toFailed.TotalSeconds:F1} s after the kill; instance now on {view.GetProperty("node").GetString()}");

        var again = await Client.SendStreamingAsync(Nodes[2], id, "after the crash");
        Assert.True(again.Completed);

        await cluster.RestartAsync(host, ReadyTimeout);
        output.WriteLine($"{host} back and routing {clock.Elapsed.TotalSeconds:F1} s after the kill");
    }

    [Fact]
    public async Task A_rolling_restart_under_load_fails_no_request_beyond_documented_retries()
    {
        await cluster.EnsureAllRunningAsync(ReadyTimeout);
        await Client.SavePromptAsync(Nodes[0], "rolling", "Echo.");
        var instances = await StartInstancesAsync("rolling", 6);
        var load = new LoadGenerator(cluster, instances);
        load.Start();
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(2));
            foreach (var node in Nodes)
            {
                // As an orchestrator does: take the node out of the load balancer, then SIGTERM it; start it again.
                node.Routable = false;
                var took = await node.StopAsync(TimeSpan.FromSeconds(45));
                var completed = load.Completed.Count;
                await cluster.RestartAsync(node, ReadyTimeout);
                output.WriteLine($"{node}: left in {took.TotalSeconds:F1} s (hand-off and leave), back and routing; {load.Completed.Count} replies so far");
                Assert.True(load.Completed.Count >= completed);
                await Task.Delay(TimeSpan.FromSeconds(1));
            }
            await Task.Delay(TimeSpan.FromSeconds(2));
        }
        finally
        {
            await load.StopAsync();
        }
        output.WriteLine(load.Report());
        foreach (var sample in load.FailureSamples.Take(15))
            output.WriteLine("  " + sample);

        // Documented retry: 409 instance_busy while an instance moves between nodes (the previous reply is being recorded
        // and handed off). Nothing else may fail: no interrupted reply, no timeout, no connection error.
        Assert.Equal(0, load.FailureCount(kind => kind != "http:409:instance_busy"));
        await Consistency.WaitNoOpenTasksAsync(cluster, SweeperBound);
        await Consistency.VerifyAsync(cluster, instances, load.Completed, output);
        var ids = string.Join(", ", instances.Select(i => $"'{i}'"));
        var interrupted = await cluster.QueryAsync(
            $"SELECT COUNT(*) FROM ai_tasks t JOIN ai_runs r ON r.id = t.run_id WHERE t.status <> 'completed' AND r.instance_id IN ({ids})",
            r => { r.Read(); return r.GetInt64(0); });
        Assert.Equal(0, interrupted); // no reply was cut short by a graceful leave
    }

    /// <summary>Polls GET (2 s per try) through the survivors until the instance answers from a node other than the dead one.</summary>
    private async Task<TimeSpan> ProbeUntilServedAsync(string id, HostNode dead)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(90))
        {
            var survivors = cluster.Routable.Where(n => n != dead).ToArray();
            try
            {
                using var attempt = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                var view = await Client.GetInstanceAsync(survivors[Random.Shared.Next(survivors.Length)], id, attempt.Token);
                if (view.GetProperty("node").GetString() != dead.Address)
                    return clock.Elapsed;
            }
            catch (Exception e) when (e is EngineHttpException or HttpRequestException or OperationCanceledException)
            {
            }
            await Task.Delay(100);
        }
        return clock.Elapsed;
    }

    private async Task<List<string>> StartInstancesAsync(string promptId, int count)
    {
        var ids = new List<string>();
        for (var i = 0; i < count; i++)
            ids.Add((await Client.StartInstanceAsync(Nodes[i % Nodes.Length], promptId)).GetProperty("instanceId").GetString()!);
        return ids;
    }

    private async Task Eventually(Func<Task<bool>> condition, string message, TimeSpan? within = null)
    {
        var clock = Stopwatch.StartNew();
        var limit = within ?? TimeSpan.FromSeconds(20);
        while (!await condition())
        {
            if (clock.Elapsed > limit)
                Assert.Fail($"{message} (after {limit})\n{cluster.Logs(25)}");
            await Task.Delay(200);
        }
    }
}
