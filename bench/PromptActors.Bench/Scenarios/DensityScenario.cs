using System.Diagnostics;
using PromptActors.Bench.Infrastructure;
using PromptActors.Engine;
using PromptActors.Instances;

namespace PromptActors.Bench.Scenarios;

/// <summary>
/// Density: starts idle instances (journal on PostgreSQL, fsync on) and reports memory per instance — GC heap after a
/// full compacting collection, and process RSS — and the start rate; then sends one message to each and reports again.
/// </summary>
public static class DensityScenario
{
    /// <summary>Counts the live actors matching an actor-selection pattern (Identify, answers collected for 3 s).</summary>
    internal static async Task<int> CountActorsAsync(Akka.Actor.ActorSystem system, string pattern)
    {
        var count = 0;
        var inbox = Akka.Actor.Inbox.Create(system);
        system.ActorSelection(pattern).Tell(new Akka.Actor.Identify(null), inbox.Receiver);
        var deadline = DateTime.UtcNow.AddSeconds(3);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                if (await inbox.ReceiveAsync(TimeSpan.FromMilliseconds(500)) is Akka.Actor.ActorIdentity { Subject: not null })
                    count++;
            }
            catch (TimeoutException)
            {
                break;
            }
        }
        return count;
    }

    public static async Task<ScenarioResult> RunAsync(BenchOptions o)
    {
        var n = o.Size("instances", 100_000, 2_000);
        var parallelism = o.Size("parallelism", 512, 128);
        var result = new ScenarioResult("density");
        o.Log($"density: {n:#,0} idle instances (journal on PostgreSQL, fsync on), then one message each");

        await using var pg = await BenchPostgres.StartAsync(o);
        var (_, storage) = await pg.CreateStorageAsync();
        await using var storageLease = storage;
        await using var host = await EngineHost.StartAsync(o.Engine(new EngineHostOptions
        {
            Storage = storage.AkkaConfig(), Prompts = storage.Prompts, Variables = storage.Variables, Runs = storage.Runs,
            
        }), "bench-density");
        await host.WarmUpAsync();

        // Ids are made before the first measurement so they are not counted as instance memory.
        var ids = Enumerable.Range(0, n).Select(i => $"density-{i:D7}").ToArray();
        var config = new ExecutionConfig(TrackInRuns: false, ShowVariables: false);
        var (heap0, rss0) = Memory.Measure();
        o.Log($"before: heap {Fmt.Bytes(heap0)}, RSS {Fmt.Bytes(rss0)}");

        var started = 0;
        var failures = 0;
        var clock = Stopwatch.StartNew();
        using (new Timer(_ => o.Log($"  … started {Volatile.Read(ref started):#,0}/{n:#,0}, heap {Fmt.Bytes(Memory.HeapNow())}"),
                   null, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5)))
        {
            await Turns.ForEachAsync(n, parallelism, async (i, ct) =>
            {
                try
                {
                    await host.Engine.StartInstanceAsync(new StartInstanceRequest(EngineHost.PromptId, EngineHost.Scope,
                        ExecutionConfig: config, InstanceId: ids[i]), ct);
                    Interlocked.Increment(ref started);
                }
                catch (PromptActorsException)
                {
                    Interlocked.Increment(ref failures);
                }
            });
        }
        var startSeconds = clock.Elapsed.TotalSeconds;
        var (heap1, rss1) = Memory.Measure();
        o.Log($"{started:#,0} idle instances in {startSeconds:0.0} s; heap {Fmt.Bytes(heap1)}, RSS {Fmt.Bytes(rss1)}");

        var stats = new TurnStats();
        // --stream 0: send the message and poll GetInstanceAsync until it completed, without a StreamAsync subscriber
        // (separates what a reply subscription leaves behind from what the turn itself keeps).
        var stream = o.Size("stream", 1, 1) != 0;
        clock.Restart();
        using (OverheadScenario.Progress(o, stats, n))
        {
            await Turns.ForEachAsync(n, parallelism, async (i, ct) =>
            {
                if (stream)
                {
                    stats.Add(await Turns.EngineAsync(host.Engine, ids[i], "hello there, how are you today?", ct));
                    return;
                }
                var start = Stopwatch.GetTimestamp();
                await host.Engine.ExecuteMessageAsync(ids[i], "hello there, how are you today?", ct);
                while ((await host.Engine.GetInstanceAsync(ids[i], ct)).Status is not InstanceStatus.Completed)
                    await Task.Delay(5, ct);
                stats.Add(new TurnResult(true, double.NaN, Stopwatch.GetElapsedTime(start).TotalMilliseconds, 0, null));
            });
        }
        var messageSeconds = clock.Elapsed.TotalSeconds;
        await Task.Delay(TimeSpan.FromSeconds(o.Smoke ? 1 : 5)); // let finished streams stop their actors
        var streamActors = await CountActorsAsync(host.System, "/system/StreamSupervisor-*/*");
        var (heap2, rss2) = Memory.Measure();
        o.Log($"stream actors still alive after the message phase: {streamActors:#,0}");
        o.Log($"one message each in {messageSeconds:0.0} s; heap {Fmt.Bytes(heap2)}, RSS {Fmt.Bytes(rss2)}");

        var idleHeap = (heap1 - heap0) / (double)started;
        var afterHeap = (heap2 - heap0) / (double)started;
        var t = result.Table($"{started:#,0} instances on one node (journal on PostgreSQL {pg.Version}, fsync on)",
            "metric", "idle (started)", "after one message each", "target");
        t.Row("GC heap per instance (after full GC)", Fmt.Bytes(idleHeap), Fmt.Bytes(afterHeap), "≤ 10 KiB idle");
        t.Row("RSS per instance", Fmt.Bytes((rss1 - rss0) / (double)started), Fmt.Bytes((rss2 - rss0) / (double)started), "");
        t.Row("GC heap total", Fmt.Bytes(heap1), Fmt.Bytes(heap2), "");
        t.Row("process RSS total", Fmt.Bytes(rss1), Fmt.Bytes(rss2), "");
        t.Row("rate", Fmt.N0(started / startSeconds) + " starts/s", Fmt.N0(stats.Ok / messageSeconds) + " turns/s", "");
        t.Row("errors", failures.ToString(), $"{stats.Errors} ({stats.ErrorSummary()})", "0");
        var verdict = result.Table("target", "metric", "measured", "target", "verdict");
        verdict.Row("GC heap per idle instance", Fmt.Bytes(idleHeap), "≤ 10 KiB", Fmt.Verdict(idleHeap <= 10 * 1024));
        result.Notes.Add($"Before starting: heap {Fmt.Bytes(heap0)}, RSS {Fmt.Bytes(rss0)} (engine started and warmed up). " +
                         "Instances: trackInRuns off, showVariables off, one-word-per-chunk echo reply of 6 words.");
        result.Figure("idle_heap_per_instance", idleHeap);
        result.Figure("after_heap_per_instance", afterHeap);
        result.Figure("starts_per_s", started / startSeconds);
        result.Figure("turns_per_s", stats.Ok / messageSeconds);
        result.Figure("errors", failures + stats.Errors);
        return result;
    }
}
