using System.Diagnostics;
using PromptActors.Bench.Infrastructure;
using PromptActors.Engine;
using PromptActors.Instances;
using PromptActors.Models;

namespace PromptActors.Bench.Scenarios;

/// <summary>
/// Soak: many instances chatting for a long time (local model with a small per-word delay, tracking on, PostgreSQL with
/// fsync on). Each worker runs conversations of 10 turns and then cleans the instance up (tombstone, journal deleted)
/// and starts a new one, so the steady state is fixed-size. Reports throughput, errors and memory per interval.
/// </summary>
public static class SoakScenario
{
    private const int ConversationTurns = 10;

    private sealed record Interval(int Index, double Seconds, long Turns, long Errors, string ErrorSummary, double P50, double P99,
        long Heap, long Rss, long Conversations, long CleanupRetries);

    private static async Task<TurnResult> PollTurnAsync(EngineHost host, string id, string input)
    {
        var start = Stopwatch.GetTimestamp();
        try
        {
            await host.Engine.ExecuteMessageAsync(id, input);
            while (true)
            {
                var view = await host.Engine.GetInstanceAsync(id);
                if (view.Status is InstanceStatus.Completed)
                    return new TurnResult(true, double.NaN, Stopwatch.GetElapsedTime(start).TotalMilliseconds, 0, null);
                if (view.Status is InstanceStatus.Error)
                    return TurnResult.Failed(start, view.Execution.LastError?.Code ?? "error");
                await Task.Delay(10);
            }
        }
        catch (PromptActorsException ex)
        {
            return TurnResult.Failed(start, ex.Code);
        }
    }

    public static async Task<ScenarioResult> RunAsync(BenchOptions o)
    {
        var workers = o.Size("instances", 500, 50);
        var duration = TimeSpan.FromSeconds(o.Value("seconds", 600, 10));
        var interval = TimeSpan.FromSeconds(o.Value("interval", 60, 2));
        var wordDelay = TimeSpan.FromMilliseconds(o.Value("word-delay-ms", 2, 2));
        var words = o.Size("words", 20, 20);
        // Diagnostics: --tracking 0 turns run tracking off; --stream 0 waits for replies by polling GetInstanceAsync
        // instead of a StreamAsync subscription (to tell which path keeps memory).
        var tracking = o.Size("tracking", 1, 1) != 0;
        var stream = o.Size("stream", 1, 1) != 0;
        var result = new ScenarioResult("soak");
        o.Log($"soak: {workers} instances chatting for {duration.TotalSeconds:0} s ({words}-word replies, {wordDelay.TotalMilliseconds} ms per word), " +
              $"conversations of {ConversationTurns} turns then cleanup, tracking {(tracking ? "on" : "off")}, " +
              $"replies read with {(stream ? "StreamAsync" : "GetInstanceAsync polling")}, PostgreSQL fsync on");

        await using var pg = await BenchPostgres.StartAsync(o);
        var (_, storage) = await pg.CreateStorageAsync();
        await using var storageLease = storage;
        await using var host = await EngineHost.StartAsync(o.Engine(new EngineHostOptions
        {
            Storage = storage.AkkaConfig(), Prompts = storage.Prompts, Variables = storage.Variables, Runs = storage.Runs,
            Model = new LocalModelOptions { ReplyWords = words, WordDelay = wordDelay },
        }), "bench-soak");
        await host.WarmUpAsync(trackInRuns: true);

        var current = new TurnStats();
        long conversations = 0;
        long cleanupRetries = 0;
        var intervals = new List<Interval>();
        var total = new TurnStats();
        using var stop = new CancellationTokenSource(duration);
        var clock = Stopwatch.StartNew();

        var index = 0;
        var last = clock.Elapsed;
        void Close(TurnStats stats)
        {
            var now = clock.Elapsed;
            var (heap, rss) = Memory.Measure();
            var i = new Interval(++index, (now - last).TotalSeconds, stats.Ok, stats.Errors, stats.ErrorSummary(),
                stats.Total.P50, stats.Total.P99, heap, rss, Interlocked.Exchange(ref conversations, 0),
                Interlocked.Exchange(ref cleanupRetries, 0));
            last = now;
            lock (intervals)
                intervals.Add(i);
            o.Log($"interval {i.Index}: {i.Turns / i.Seconds:0} turns/s, errors {i.Errors}, total p99 {i.P99:0.0} ms, " +
                  $"heap {Fmt.Bytes(heap)}, RSS {Fmt.Bytes(rss)}");
        }
        var monitor = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    await Task.Delay(interval, stop.Token);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
                Close(Interlocked.Exchange(ref current, new TurnStats()));
            }
        });

        await Turns.WorkersAsync(workers, async _ =>
        {
            while (!stop.IsCancellationRequested)
            {
                string id;
                try
                {
                    id = (await host.StartAsync(new ExecutionConfig(TrackInRuns: tracking, ShowVariables: false))).InstanceId;
                }
                catch (PromptActorsException ex)
                {
                    var failed = TurnResult.Failed(Stopwatch.GetTimestamp(), "start:" + ex.Code);
                    Volatile.Read(ref current).Add(failed);
                    total.Add(failed);
                    continue;
                }
                for (var turn = 0; turn < ConversationTurns && !stop.IsCancellationRequested; turn++)
                {
                    var r = stream
                        ? await Turns.EngineAsync(host.Engine, id, EngineHost.UserInput(turn))
                        : await PollTurnAsync(host, id, EngineHost.UserInput(turn));
                    Volatile.Read(ref current).Add(r);
                    total.Add(r);
                }
                // The last task's run row is written by the outbox after the reply: cleanup waits for it.
                for (var attempt = 0; ; attempt++)
                {
                    try
                    {
                        await host.Engine.CleanupAsync(id);
                        break;
                    }
                    catch (PromptActorsException ex) when (ex.Code is ErrorCodes.StoreUnavailable or ErrorCodes.InstanceBusy && attempt < 1200)
                    {
                        Interlocked.Increment(ref cleanupRetries);
                        await Task.Delay(25);
                    }
                    catch (PromptActorsException ex)
                    {
                        var failed = TurnResult.Failed(Stopwatch.GetTimestamp(), "cleanup:" + ex.Code);
                        Volatile.Read(ref current).Add(failed);
                        total.Add(failed);
                        break;
                    }
                }
                Interlocked.Increment(ref conversations);
            }
        });
        await monitor;
        Close(Interlocked.Exchange(ref current, new TurnStats())); // the last, partial interval (workers finishing)

        var t = result.Table($"{workers} instances for {duration.TotalMinutes:0.#} min, {words}-word replies at {wordDelay.TotalMilliseconds} ms/word, " +
                             $"conversations of {ConversationTurns} turns + cleanup, PostgreSQL {pg.Version} (fsync on)",
            "interval", "turns/s", "conversations", "errors", "total p50", "total p99", "GC heap after full GC", "RSS", "cleanup retries");
        foreach (var i in intervals)
            t.Row($"{i.Index} ({i.Seconds:0} s)", Fmt.N0(i.Turns / i.Seconds), Fmt.N0(i.Conversations),
                i.Errors == 0 ? "0" : $"{i.Errors} ({i.ErrorSummary})", Fmt.Ms(i.P50), Fmt.Ms(i.P99), Fmt.Bytes(i.Heap), Fmt.Bytes(i.Rss),
                Fmt.N0(i.CleanupRetries));

        var warm = intervals.Count > 2 ? intervals[1] : intervals.FirstOrDefault();
        var end = intervals.LastOrDefault();
        var growth = warm is null || end is null ? double.NaN : (double)(end.Heap - warm.Heap) / warm.Heap;
        var v = result.Table("verdict", "metric", "measured", "target", "verdict");
        v.Row("errors", $"{total.Errors} ({total.ErrorSummary()})", "0", Fmt.Verdict(total.Errors == 0));
        v.Row("GC heap, last interval vs interval 2", warm is null || end is null ? "n/a"
            : $"{Fmt.Bytes(end.Heap)} vs {Fmt.Bytes(warm.Heap)} ({growth * 100:+0.0;-0.0} %)", "flat after warm-up",
            Fmt.Verdict(double.IsFinite(growth) && growth < 0.10));
        // A heap that grows and is released now and then (a sawtooth) is not flat either: the highest interval counts too.
        var peak = intervals.Skip(1).Select(i => i.Heap).DefaultIfEmpty(0).Max();
        var peakGrowth = warm is null || warm.Heap == 0 ? double.NaN : (double)(peak - warm.Heap) / warm.Heap;
        v.Row("GC heap, highest interval after warm-up vs interval 2", warm is null ? "n/a"
            : $"{Fmt.Bytes(peak)} vs {Fmt.Bytes(warm.Heap)} ({peakGrowth * 100:+0.0;-0.0} %)", "flat after warm-up",
            Fmt.Verdict(double.IsFinite(peakGrowth) && peakGrowth < 0.25));
        result.Notes.Add("Memory is measured at the end of each interval after a forced full compacting GC (so it is the live heap). " +
                         "Cleanup right after the last reply waits (up to 10 s) for the outbox to write the last run row; when it is refused " +
                         "anyway, the worker retries every 25 ms for up to 30 s (counted as cleanup retries; only a cleanup still refused after 30 s is an error). The last row is the partial interval while the workers finish their conversation after the deadline.");
        result.Figure("turns", total.Ok);
        result.Figure("turns_per_s", total.Ok / clock.Elapsed.TotalSeconds);
        result.Figure("errors", total.Errors);
        result.Figure("intervals", intervals.Count);
        result.Figure("heap_growth", growth);
        return result;
    }
}
