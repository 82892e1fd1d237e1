using System.Diagnostics;
using Microsoft.Extensions.AI;
using PromptActors.Bench.Infrastructure;
using PromptActors.Instances;
using PromptActors.Models;
using PromptActors.Streaming;

namespace PromptActors.Bench.Scenarios;

/// <summary>
/// Engine overhead: N instances × M messages through the engine (local model at zero delay, tracking off, Akka's
/// in-memory journal, serialize-messages off) beside a plain loop that calls the same IChatClient directly with the same
/// concurrency and the same growing conversation.
/// </summary>
public static class OverheadScenario
{
    public static async Task<ScenarioResult> RunAsync(BenchOptions o)
    {
        var n = o.Size("instances", 1000, 20);
        var m = o.Size("messages", 20, 3);
        var words = o.Size("words", 20, 20);
        var model = new LocalModelOptions { ReplyWords = words };
        var result = new ScenarioResult("overhead");
        o.Log($"overhead: {n} instances × {m} messages, {words}-word replies, local model at zero delay, tracking off, in-memory journal");

        await using var host = await EngineHost.StartAsync(o.Engine(new EngineHostOptions { Model = model }));
        await host.WarmUpAsync();
        var client = EngineHost.CreateModel(model);
        await BaselineAsync(client, Math.Min(n, 50), 3); // JIT warm-up of the direct path

        var ids = new string[n];
        var sw = Stopwatch.StartNew();
        await Turns.ForEachAsync(n, 256, async (i, ct) =>
            ids[i] = (await host.StartAsync(new ExecutionConfig(TrackInRuns: false, ShowVariables: false), ct)).InstanceId);
        o.Log($"started {n} instances in {sw.Elapsed.TotalSeconds:0.0} s");

        o.Log("baseline: direct IChatClient calls …");
        var (baseline, baseDelta) = await BaselineAsync(client, n, m);
        o.Log($"baseline: {baseline.Ok} turns in {baseDelta.Seconds:0.00} s");

        o.Log("engine: ExecuteMessageAsync + StreamAsync …");
        var engine = new TurnStats();
        var start = ProcessSample.Take();
        using (Progress(o, engine, n * m))
        {
            await Turns.WorkersAsync(n, async w =>
            {
                for (var turn = 0; turn < m; turn++)
                    engine.Add(await Turns.EngineAsync(host.Engine, ids[w], EngineHost.UserInput(turn)));
            });
        }
        var engineDelta = ProcessSample.Take().Since(start);
        o.Log($"engine: {engine.Ok} turns in {engineDelta.Seconds:0.00} s, errors: {engine.ErrorSummary()}");

        // Unloaded: one turn at a time (engine and direct interleaved), so the latency shows what the engine adds to a
        // turn rather than the queueing of 1,000 concurrent conversations on two cores.
        var sequential = o.Size("sequential", 20, 2);
        o.Log($"unloaded: {sequential} conversations × {m} turns, one turn at a time …");
        var seqEngine = new TurnStats();
        var seqDirect = new TurnStats();
        var seqTraced = new TurnStats(); // one more conversation after each, with telemetry on
        for (var c = 0; c < sequential; c++)
        {
            var id = (await host.StartAsync(new ExecutionConfig(TrackInRuns: false, ShowVariables: false))).InstanceId;
            var messages = new List<ChatMessage> { new(ChatRole.System, EngineHost.RenderedSystemMessage()) };
            for (var turn = 0; turn < m; turn++)
            {
                seqEngine.Add(await Turns.EngineAsync(host.Engine, id, EngineHost.UserInput(turn)));
                seqDirect.Add((await Turns.DirectAsync(client, messages, EngineHost.UserInput(turn))).Result);
            }
            var tracedId = (await host.StartAsync(new ExecutionConfig(TrackInRuns: false, ShowVariables: false))).InstanceId;
            using var telemetry = new TelemetryOn();
            for (var turn = 0; turn < m; turn++)
                seqTraced.Add(await Turns.EngineAsync(host.Engine, tracedId, EngineHost.UserInput(turn)));
        }
        var traced = await TelemetryRoundsAsync(o, host, n, m);

        var engineRate = engine.Ok / engineDelta.Seconds;
        var baseRate = baseline.Ok / baseDelta.Seconds;
        var t = result.Table($"{n} concurrent instances × {m} messages, {words}-word replies (local model, zero delay)",
            "metric", "engine", "direct IChatClient loop", "engine vs direct", "target");
        t.Row("turns/s", Fmt.N0(engineRate), Fmt.N0(baseRate), Fmt.Pct(engineRate / baseRate) + " of direct", "");
        t.Row("chunks/s", Fmt.N0(engine.Chunks / engineDelta.Seconds), Fmt.N0(baseline.Chunks / baseDelta.Seconds), "", "");
        AddLatency(t, "TTFT", engine.Ttft, baseline.Ttft);
        AddLatency(t, "total", engine.Total, baseline.Total);
        t.Row("CPU per turn", Fmt.Ms(engineDelta.CpuMs / engine.Ok), Fmt.Ms(baseDelta.CpuMs / baseline.Ok),
            "+" + Fmt.Ms((engineDelta.CpuMs / engine.Ok) - (baseDelta.CpuMs / baseline.Ok)), "");
        t.Row("allocated per turn", Fmt.Bytes((double)engineDelta.AllocatedBytes / engine.Ok),
            Fmt.Bytes((double)baseDelta.AllocatedBytes / baseline.Ok),
            "+" + Fmt.Bytes(((double)engineDelta.AllocatedBytes / engine.Ok) - ((double)baseDelta.AllocatedBytes / baseline.Ok)), "");
        t.Row("GCs gen0/gen1/gen2", $"{engineDelta.Gen0}/{engineDelta.Gen1}/{engineDelta.Gen2}",
            $"{baseDelta.Gen0}/{baseDelta.Gen1}/{baseDelta.Gen2}", "", "");
        t.Row("errors", $"{engine.Errors} ({engine.ErrorSummary()})", baseline.Errors.ToString(), "", "0");
        AddLatency(t, "unloaded TTFT", seqEngine.Ttft, seqDirect.Ttft, "≤ 1 ms added at p99");
        AddLatency(t, "unloaded total", seqEngine.Total, seqDirect.Total);
        t.Row("unloaded turns (errors)", $"{seqEngine.Ok} ({seqEngine.Errors})", $"{seqDirect.Ok} ({seqDirect.Errors})", "", "");
        var telemetryRatio = traced.OnRate / traced.OffRate;
        var tt = result.Table("telemetry on (every span sampled and batch-exported, metrics read each second) vs off, same load, rounds alternating",
            "metric", "telemetry off", "telemetry on", "on vs off", "target");
        tt.Row("turns/s", Fmt.N0(traced.OffRate), Fmt.N0(traced.OnRate), Fmt.Pct(telemetryRatio) + " of off", "≥ 95 %");
        tt.Row("CPU per turn", Fmt.Ms(traced.OffCpuMsPerTurn), Fmt.Ms(traced.OnCpuMsPerTurn),
            "+" + Fmt.Ms(traced.OnCpuMsPerTurn - traced.OffCpuMsPerTurn), "");
        tt.Row("spans exported per turn", "0", (traced.Spans / Math.Max(1.0, traced.OnTurns)).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture), "", "");
        foreach (var p in new[] { 50.0, 99.0 })
        {
            var off = seqEngine.Ttft.Percentile(p);
            var on = seqTraced.Ttft.Percentile(p);
            tt.Row($"unloaded TTFT p{p:0}", Fmt.Ms(off), Fmt.Ms(on), "+" + Fmt.Ms(on - off) + " added", p == 99.0 ? "≤ 0.1 ms added" : "");
        }
        tt.Row("errors", traced.OffErrors.ToString(), $"{traced.OnErrors + seqTraced.Errors}", "", "0");
        result.Figure("telemetry.ratio", telemetryRatio);
        result.Figure("telemetry.unloaded_ttft_added_p99_ms", seqTraced.Ttft.P99 - seqEngine.Ttft.P99);
        result.Figure("telemetry.errors", traced.OnErrors + seqTraced.Errors);
        result.Notes.Add("The first rows run all conversations at once, so their latencies are mostly queueing (1,000 conversations " +
                         "on 2 cores; the direct loop's TTFT is measured from the call, which runs synchronously). The 'unloaded' rows " +
                         "run one turn at a time and show what the engine itself adds to a turn.");
        result.Notes.Add("TTFT: engine = from the ExecuteMessageAsync call to the first ReplyChunk seen by StreamAsync; " +
                         "direct = from the GetStreamingResponseAsync call to the first update with text. Added latency = engine − direct at the same percentile.");

        result.Figure("engine.turns_per_s", engineRate);
        result.Figure("baseline.turns_per_s", baseRate);
        result.Figure("ratio", engineRate / baseRate);
        result.Figure("engine.ttft_p99_ms", engine.Ttft.P99);
        result.Figure("unloaded.ttft_added_p99_ms", seqEngine.Ttft.P99 - seqDirect.Ttft.P99);
        result.Figure("unloaded.errors", seqEngine.Errors);
        result.Figure("engine.errors", engine.Errors);
        return result;
    }

    private sealed record TelemetryFigures(double OffRate, double OnRate, double OffCpuMsPerTurn, double OnCpuMsPerTurn,
        long OnTurns, long Spans, long OffErrors, long OnErrors);

    /// <summary>
    /// The loaded figures with telemetry off and on: rounds of the same load on fresh instances, off then on, so the
    /// machine's drift falls on both alike; the instances start before telemetry is turned on.
    /// </summary>
    private static async Task<TelemetryFigures> TelemetryRoundsAsync(BenchOptions o, EngineHost host, int n, int m)
    {
        var rounds = o.Size("telemetry-rounds", 3, 1);
        o.Log($"telemetry: {rounds} rounds of {n} × {m} turns, off then on …");
        var stats = new[] { new TurnStats(), new TurnStats() };
        var seconds = new double[2];
        var cpu = new double[2];
        long spans = 0;
        for (var round = 0; round < rounds; round++)
        {
            for (var on = 0; on < 2; on++)
            {
                var ids = new string[n];
                await Turns.ForEachAsync(n, 256, async (i, ct) =>
                    ids[i] = (await host.StartAsync(new ExecutionConfig(TrackInRuns: false, ShowVariables: false), ct)).InstanceId);
                var telemetry = on == 1 ? new TelemetryOn() : null;
                var phase = stats[on];
                var start = ProcessSample.Take();
                await Turns.WorkersAsync(n, async w =>
                {
                    for (var turn = 0; turn < m; turn++)
                        phase.Add(await Turns.EngineAsync(host.Engine, ids[w], EngineHost.UserInput(turn)));
                });
                var delta = ProcessSample.Take().Since(start);
                seconds[on] += delta.Seconds;
                cpu[on] += delta.CpuMs;
                if (telemetry is not null)
                {
                    telemetry.Dispose();
                    spans += telemetry.Spans;
                }
            }
            o.Log($"  round {round + 1}: off {stats[0].Ok / seconds[0]:#,0} turns/s, on {stats[1].Ok / seconds[1]:#,0} turns/s so far");
        }
        return new TelemetryFigures(stats[0].Ok / seconds[0], stats[1].Ok / seconds[1], cpu[0] / Math.Max(1, stats[0].Ok),
            cpu[1] / Math.Max(1, stats[1].Ok), stats[1].Ok, spans, stats[0].Errors, stats[1].Errors);
    }

    private static void AddLatency(ResultTable t, string what, LatencyRecorder engine, LatencyRecorder direct, string target = "")
    {
        foreach (var p in new[] { 50.0, 99.0 })
        {
            var e = engine.Percentile(p);
            var d = direct.Percentile(p);
            t.Row($"{what} p{p:0}", Fmt.Ms(e), Fmt.Ms(d), "+" + Fmt.Ms(e - d) + " added", p == 99.0 ? target : "");
        }
    }

    private static async Task<(TurnStats Stats, ProcessDelta Delta)> BaselineAsync(IChatClient client, int n, int m)
    {
        var stats = new TurnStats();
        var start = ProcessSample.Take();
        await Turns.WorkersAsync(n, async w =>
        {
            var messages = new List<ChatMessage> { new(ChatRole.System, EngineHost.RenderedSystemMessage()) };
            for (var turn = 0; turn < m; turn++)
                stats.Add((await Turns.DirectAsync(client, messages, EngineHost.UserInput(turn))).Result);
        });
        return (stats, ProcessSample.Take().Since(start));
    }

    /// <summary>Prints a progress line every 5 seconds until disposed.</summary>
    internal static IDisposable Progress(BenchOptions o, TurnStats stats, long expected)
    {
        var timer = new Timer(_ => o.Log($"  … {stats.Ok + stats.Errors:#,0}/{expected:#,0} turns, errors {stats.Errors}"),
            null, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5));
        return timer;
    }
}
