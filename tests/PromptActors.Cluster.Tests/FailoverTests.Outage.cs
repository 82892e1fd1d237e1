using System.Diagnostics;
using PromptActors.Cluster.Tests.Support;

namespace PromptActors.Cluster.Tests;

public sealed partial class FailoverTests
{
    /// <summary>
    /// PostgreSQL stops for 30 s under streaming load. During the outage requests fail fast (no request waits past its
    /// timeout) and the nodes log little; once the database is back, replies resume within seconds (the journal's circuit
    /// breakers reset after 2 s, not 30), and nothing is lost or counted twice.
    /// </summary>
    [Fact]
    public async Task A_database_outage_fails_requests_fast_logs_little_and_replies_resume_soon_after()
    {
        await cluster.EnsureAllRunningAsync(ReadyTimeout);
        var outage = TimeSpan.FromSeconds(int.TryParse(Environment.GetEnvironmentVariable("PA_OUTAGE_SECONDS"), out var s) ? s : 30);
        await Client.SavePromptAsync(Nodes[0], "outage", "Echo.");
        var instances = await StartInstancesAsync("outage", 9);
        // A client that waits longer than the engine's AskTimeout (30 s) would notice a hang as a client timeout.
        var load = new LoadGenerator(cluster, instances, clientTimeout: TimeSpan.FromSeconds(40));
        load.Start();
        double resumedAfter;
        long logged;
        try
        {
            await Eventually(() => Task.FromResult(instances.All(i => load.FirstSuccessAfter(i, TimeSpan.Zero) is not null) ? instances : null),
                "the load did not start", TimeSpan.FromSeconds(30));
            var logsBefore = Nodes.Sum(n => n.LogBytes);
            await cluster.Postgres.StopAsync();
            await Task.Delay(outage);
            logged = Nodes.Sum(n => n.LogBytes) - logsBefore;
            await cluster.Postgres.StartAgainAsync();
            Npgsql.NpgsqlConnection.ClearAllPools(); // the test's own pooled connections died with the server
            var backAt = load.Now;
            var clock = Stopwatch.StartNew();
            await Eventually(() => Task.FromResult(instances.All(i => load.FirstSuccessAfter(i, backAt) is not null) ? instances : null),
                "not every instance answered again after the database came back", TimeSpan.FromSeconds(60));
            resumedAfter = instances.Max(i => (load.FirstSuccessAfter(i, backAt)!.Value - backAt).TotalSeconds);
            var firstAfter = instances.Min(i => (load.FirstSuccessAfter(i, backAt)!.Value - backAt).TotalSeconds);
            output.WriteLine($"database down {outage.TotalSeconds:0} s: {logged / 1024.0:F0} KiB logged by the nodes meanwhile; after its return " +
                             $"the first reply completed after {firstAfter:F1} s, every instance's after {resumedAfter:F1} s");
            foreach (var node in Nodes)
                Assert.True(node.IsRunning, $"{node} stopped during the outage");
        }
        finally
        {
            await load.StopAsync();
        }
        output.WriteLine(load.Report());
        foreach (var sample in load.FailureSamples.Take(15))
            output.WriteLine("  " + sample);

        Assert.True(logged < 1024 * 1024, $"the nodes logged {logged} bytes during the outage");
        Assert.Equal(0, load.FailureCount(kind => kind is "client-timeout" || kind.Contains(":timeout", StringComparison.Ordinal)));
        Assert.True(resumedAfter <= 5.0, $"replies resumed {resumedAfter:F1} s after the database came back");
        await Consistency.WaitNoOpenTasksAsync(cluster, SweeperBound);
        await Consistency.VerifyAsync(cluster, instances, load.Completed, output);
        output.WriteLine($"FIGURES outage seconds={outage.TotalSeconds:0} logged-bytes={logged} resumed-after={resumedAfter:F1}s");
    }
}
