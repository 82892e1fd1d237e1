using System.Diagnostics;
using PromptActors.Cluster.Tests.Support;
using Xunit.Abstractions;

namespace PromptActors.Cluster.Tests;

/// <summary>A cluster of a given size for throughput figures (the local model with no word delay).</summary>
public sealed class SizedCluster(int size) : ClusterFixture(size)
{
    protected override IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string>
    {
        ["PromptActors:Models:local:WordDelay"] = "00:00:00",
    };
}

/// <summary>
/// Completed executions per second with 1, 2 and 3 local nodes, every request sent round-robin to the nodes (so with 2
/// or 3 nodes about 1/2 or 2/3 of the requests reach an instance on another node). Opt-in: set PA_CLUSTER_FIGURES=1 (it
/// takes about two minutes; CI does not run it, the figures are in docs/RELIABILITY.md). On a 2-core machine three
/// processes share the same cores: the figures show the cost of routing across nodes, not scaling.
/// </summary>
public sealed class FiguresTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Completed_executions_per_second_with_one_two_and_three_nodes()
    {
        if (Environment.GetEnvironmentVariable("PA_CLUSTER_FIGURES") is null)
        {
            output.WriteLine("set PA_CLUSTER_FIGURES=1 to measure");
            return;
        }
        var seconds = int.TryParse(Environment.GetEnvironmentVariable("PA_CLUSTER_FIGURES_SECONDS"), out var s) ? s : 20;
        foreach (var size in new[] { 1, 2, 3 })
        {
            var cluster = new SizedCluster(size);
            await cluster.InitializeAsync();
            try
            {
                output.WriteLine(await MeasureAsync(cluster, TimeSpan.FromSeconds(seconds)));
            }
            finally
            {
                await cluster.DisposeAsync();
            }
        }
    }

    private static async Task<string> MeasureAsync(ClusterFixture cluster, TimeSpan duration)
    {
        const int clients = 16;
        var nodes = cluster.Nodes;
        await cluster.Client.SavePromptAsync(nodes[0], "figures", "Echo.");
        var instances = new List<(string Id, string Node)>();
        for (var i = 0; i < clients; i++)
        {
            var view = await cluster.Client.StartInstanceAsync(nodes[i % nodes.Length], "figures");
            instances.Add((view.GetProperty("instanceId").GetString()!, view.GetProperty("node").GetString()!));
        }
        // Warm-up: every instance and every node's stream path once.
        foreach (var (id, _) in instances)
            foreach (var node in nodes)
                await cluster.Client.SendStreamingAsync(node, id, "warm up");

        var latencies = new System.Collections.Concurrent.ConcurrentBag<(double Ms, bool Remote)>();
        var failures = 0;
        var load = Stopwatch.StartNew();
        var tasks = instances.Select((instance, c) => Task.Run(async () =>
        {
            var i = c;
            while (load.Elapsed < duration)
            {
                var node = nodes[i++ % nodes.Length];
                var started = Stopwatch.GetTimestamp();
                var outcome = await cluster.Client.SendStreamingAsync(node, instance.Id, "one two three four five six seven eight");
                if (outcome.Completed)
                    latencies.Add((Stopwatch.GetElapsedTime(started).TotalMilliseconds, node.Address != instance.Node));
                else
                    Interlocked.Increment(ref failures);
            }
        })).ToArray();
        await Task.WhenAll(tasks);
        var elapsed = load.Elapsed.TotalSeconds;
        var all = latencies.Select(l => l.Ms).Order().ToArray();
        double P(double[] xs, double q) => xs.Length == 0 ? 0 : xs[Math.Min(xs.Length - 1, (int)(q * xs.Length))];
        var local = latencies.Where(l => !l.Remote).Select(l => l.Ms).Order().ToArray();
        var remote = latencies.Where(l => l.Remote).Select(l => l.Ms).Order().ToArray();
        return $"FIGURES nodes={nodes.Length} clients={clients} completed={all.Length} failures={failures} " +
               $"throughput={all.Length / elapsed:F1}/s p50={P(all, 0.5):F1}ms p95={P(all, 0.95):F1}ms " +
               $"local p50={P(local, 0.5):F1}ms remote p50={P(remote, 0.5):F1}ms ({remote.Length} of {all.Length} remote) " +
               $"load-average={File.ReadAllText("/proc/loadavg").Split(' ')[0]}";
    }
}
