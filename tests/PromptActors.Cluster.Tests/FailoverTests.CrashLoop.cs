using System.Diagnostics;
using PromptActors.Cluster.Tests.Support;

namespace PromptActors.Cluster.Tests;

public sealed partial class FailoverTests
{
    /// <summary>
    /// The crash loop of issue 12: one node killed again and again, each time after shards have moved back onto it, so
    /// its instances move A → victim → back to the still running A (the pattern whose events the journal's replay filter
    /// used to drop). Afterwards, and again after every node restarted on the same database: every reply a client saw
    /// completed is in its conversation once and in order, no task row is open, and totals agree.
    /// </summary>
    [Fact]
    public async Task A_node_killed_again_after_shards_moved_back_onto_it_loses_no_completed_reply()
    {
        await cluster.EnsureAllRunningAsync(ReadyTimeout);
        var rounds = int.TryParse(Environment.GetEnvironmentVariable("PA_FAILOVER_ROUNDS"), out var r) ? r : 10;
        await Client.SavePromptAsync(Nodes[0], "loop", "Echo.");
        var instances = await StartInstancesAsync("loop", 12);
        var load = new LoadGenerator(cluster, instances);
        var victim = Nodes[1];
        var probes = new List<double>();
        var resumed = new List<double>();
        load.Start();
        try
        {
            for (var round = 1; round <= rounds; round++)
            {
                // Wait until the rejoined victim hosts instances again (shards move back a few at a time).
                var owned = await Eventually(async () =>
                {
                    var on = new List<string>();
                    foreach (var id in instances)
                        if ((await Consistency.GetWithRetryAsync(cluster, id)).GetProperty("node").GetString() == victim.Address)
                            on.Add(id);
                    return on.Count > 0 ? on : null;
                }, $"round {round}: no instance moved back onto {victim}", TimeSpan.FromSeconds(60));
                var killedAt = load.Now;
                await victim.KillAsync();
                var probe = ProbeUntilServedAsync(owned[0], victim);
                await Eventually(() => Task.FromResult(owned.All(i => load.FirstSuccessAfter(i, killedAt) is not null) ? owned : null),
                    $"round {round}: the instances of {victim} did not answer again", TimeSpan.FromSeconds(60));
                var back = owned.Max(i => (load.FirstSuccessAfter(i, killedAt)!.Value - killedAt).TotalSeconds);
                probes.Add((await probe).TotalSeconds);
                resumed.Add(back);
                output.WriteLine($"round {round}: kill -9 {victim} hosting {owned.Count} instances → a GET answered from a survivor after " +
                                 $"{probes[^1]:F1} s, the load's replies on them resumed after at most {back:F1} s");
                await cluster.RestartAsync(victim, ReadyTimeout);
            }
        }
        finally
        {
            await load.StopAsync();
        }
        output.WriteLine(load.Report());
        foreach (var sample in load.FailureSamples.Take(15))
            output.WriteLine("  " + sample);

        var closed = await Consistency.WaitNoOpenTasksAsync(cluster, SweeperBound);
        output.WriteLine($"no pending/streaming task rows {closed.TotalSeconds:F1} s after the load stopped");
        await Consistency.VerifyAsync(cluster, instances, load.Completed, output);

        // Every node restarts on the same database: every instance recovers from the journal alone.
        foreach (var node in Nodes)
            await node.KillAsync();
        foreach (var node in Nodes)
            cluster.Start(node);
        await cluster.WaitReadyAsync(ReadyTimeout);
        await Consistency.VerifyAsync(cluster, instances, load.Completed, output);
        await Consistency.WaitNoOpenTasksAsync(cluster, SweeperBound);

        output.WriteLine($"FIGURES crash-loop rounds={rounds} completed={load.Completed.Count} sent={load.Sent} failures={load.FailureCount()} " +
                         $"kill-to-GET {Percentiles(probes)} kill-to-load-reply {Percentiles(resumed)}");
        Assert.True(load.Completed.Count > rounds * instances.Count, "the engine served throughout");
    }

    /// <summary>
    /// A node killed and started again at once, as a supervisor does: the new incarnation joins while the old one is still
    /// a member. No healthy node may be downed (each keeps its process), and the killed node's instances answer again.
    /// </summary>
    [Fact]
    public async Task A_node_killed_and_restarted_at_once_downs_no_healthy_node()
    {
        await cluster.EnsureAllRunningAsync(ReadyTimeout);
        var rounds = int.TryParse(Environment.GetEnvironmentVariable("PA_RESTART_ROUNDS"), out var r) ? r : 5;
        await Client.SavePromptAsync(Nodes[0], "restart", "Echo.");
        var instances = await StartInstancesAsync("restart", 9);
        var load = new LoadGenerator(cluster, instances);
        var served = new List<double>();
        load.Start();
        try
        {
            for (var round = 1; round <= rounds; round++)
            {
                var victim = Nodes[round % Nodes.Length];
                var healthy = Nodes.Where(n => n != victim).Select(n => (Node: n, Pid: n.ProcessId)).ToArray();
                var owned = new List<string>();
                foreach (var id in instances)
                    if ((await Consistency.GetWithRetryAsync(cluster, id)).GetProperty("node").GetString() == victim.Address)
                        owned.Add(id);
                var clock = Stopwatch.StartNew();
                var killedAt = load.Now;
                await victim.KillAsync();
                cluster.Start(victim);
                await cluster.WaitReadyAsync(ReadyTimeout);
                if (owned.Count > 0)
                {
                    await Eventually(() => Task.FromResult(owned.All(i => load.FirstSuccessAfter(i, killedAt) is not null) ? owned : null),
                        $"round {round}: the instances of {victim} did not answer again", TimeSpan.FromSeconds(60));
                    served.Add(owned.Max(i => (load.FirstSuccessAfter(i, killedAt)!.Value - killedAt).TotalSeconds));
                }
                foreach (var (node, pid) in healthy)
                    Assert.True(node.IsRunning && node.ProcessId == pid,
                        $"round {round}: healthy {node} was downed when {victim} restarted at once\n{cluster.Logs(30)}");
                output.WriteLine($"round {round}: kill -9 and immediate restart of {victim} ({owned.Count} instances): routing again after " +
                                 $"{clock.Elapsed.TotalSeconds:F1} s{(owned.Count > 0 ? $", its instances' replies resumed after {served[^1]:F1} s" : "")}; healthy nodes kept their processes");
            }
        }
        finally
        {
            await load.StopAsync();
        }
        output.WriteLine(load.Report());
        await Consistency.WaitNoOpenTasksAsync(cluster, SweeperBound);
        await Consistency.VerifyAsync(cluster, instances, load.Completed, output);
        output.WriteLine($"FIGURES immediate-restart rounds={rounds} kill-to-load-reply {Percentiles(served)}");
    }

    private static string Percentiles(List<double> samples)
    {
        if (samples.Count == 0)
            return "n/a";
        var sorted = samples.Order().ToArray();
        double At(double q) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
        return $"n={sorted.Length} p50={At(0.5):F1}s p99={At(0.99):F1}s max={sorted[^1]:F1}s";
    }

    private async Task<T> Eventually<T>(Func<Task<T?>> attempt, string message, TimeSpan within) where T : class
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (await attempt() is { } value)
                return value;
            if (clock.Elapsed > within)
                Assert.Fail($"{message} (after {within})\n{cluster.Logs(25)}");
            await Task.Delay(200);
        }
    }
}
