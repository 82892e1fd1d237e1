using System.Diagnostics;
using System.Threading.Channels;
using PromptActors.Bench.Infrastructure;
using PromptActors.Instances;
using PromptActors.Models;
using PromptActors.Streaming;

namespace PromptActors.Bench.Scenarios;

/// <summary>
/// Fan-out: many concurrent tasks with long replies (local model at zero delay), each read by 1 or 10 StreamAsync
/// subscribers; chunks delivered per second across the node. Beside it, the hand-written equivalent: each task's
/// IChatClient stream copied into one unbounded channel per subscriber.
/// </summary>
public static class FanoutScenario
{
    public static async Task<ScenarioResult> RunAsync(BenchOptions o)
    {
        var tasks = o.Size("tasks", 1000, 20);
        var words = o.Size("words", 1000, 100);
        int[] levels = o.Overrides.ContainsKey("subscribers") ? [o.Size("subscribers", 10, 2)] : [1, 10];
        var model = new LocalModelOptions { ReplyWords = words };
        var result = new ScenarioResult("fanout");
        o.Log($"fanout: {tasks} concurrent tasks × {words}-word replies, {string.Join(" and ", levels)} subscribers per task");

        await using var host = await EngineHost.StartAsync(o.Engine(new EngineHostOptions { Model = model }));
        await host.WarmUpAsync();
        var client = EngineHost.CreateModel(model);

        var t = result.Table($"{tasks} concurrent tasks, {words}-word replies (one chunk per word), local model at zero delay, in-memory journal",
            "subscribers per task", "engine chunks/s", "direct: client → channels, chunks/s", "engine vs direct",
            "engine CPU µs/chunk", "engine allocated/chunk", "errors", "target");
        var rounds = o.Size("rounds", 3, 1);
        foreach (var s in levels)
        {
            await BaselineAsync(client, Math.Min(tasks, 20), s); // warm-up
            // Each side runs `rounds` times, alternating; the table shows the median round of each (a round moves 1–10 M
            // chunks in one or two seconds, and the thread pool's warm-up makes single rounds noisy).
            var directRates = new List<double>();
            var engineRounds = new List<(double Rate, long Delivered, long Errors, ProcessDelta Process)>();
            for (var round = 0; round < rounds; round++)
            {
                var (directChunks, directSeconds) = await BaselineAsync(client, tasks, s);
                directRates.Add(directChunks / directSeconds);
                o.Log($"S={s} round {round + 1}: direct {directChunks / directSeconds:#,0} chunks/s");
                engineRounds.Add(await EngineRoundAsync(o, host, tasks, s));
                o.Log($"S={s} round {round + 1}: engine {engineRounds[^1].Rate:#,0} chunks/s, errors {engineRounds[^1].Errors}");
            }
            var direct = directRates.Order().ElementAt(rounds / 2);
            var (rate, delivered, errors, process) = engineRounds.OrderBy(r => r.Rate).ElementAt(rounds / 2);
            var expected = (long)tasks * s * words;
            t.Row(s.ToString(), Fmt.N0(rate), Fmt.N0(direct), Fmt.Pct(rate / direct),
                Fmt.N2(process.CpuMs * 1000 / delivered), Fmt.Bytes((double)process.AllocatedBytes / delivered),
                $"{engineRounds.Sum(r => r.Errors)}{(delivered < expected ? $", {expected - delivered:#,0} chunks missing" : "")}", "≥ 1,000,000/s");
            t.Row($"{s} (all rounds)", string.Join(" / ", engineRounds.Select(r => Fmt.N0(r.Rate))),
                string.Join(" / ", directRates.Select(Fmt.N0)), "", "", "", "", "");
            result.Figure($"S{s}.engine.chunks_per_s", rate);
            result.Figure($"S{s}.direct.chunks_per_s", direct);
            result.Figure($"S{s}.errors", engineRounds.Sum(r => r.Errors));
        }
        result.Notes.Add("Each subscriber is an engine.StreamAsync(instanceId) reader opened just before ExecuteMessageAsync; " +
                         "chunks/s = chunks received by all subscribers / wall time from the first subscription to the last terminal event. " +
                         "The first row of each level is the median round; CPU and allocations are of that round.");
        return result;
    }

    private static async Task<(double Rate, long Delivered, long Errors, ProcessDelta Process)> EngineRoundAsync(BenchOptions o,
        EngineHost host, int tasks, int s)
    {
        {
            var ids = new string[tasks];
            await Turns.ForEachAsync(tasks, 256, async (i, ct) =>
                ids[i] = (await host.StartAsync(new ExecutionConfig(TrackInRuns: false, ShowVariables: false), ct)).InstanceId);
            long delivered = 0;
            long errors = 0;
            var p0 = ProcessSample.Take();
            var clock = Stopwatch.StartNew();
            using (new Timer(_ => o.Log($"  … {Interlocked.Read(ref delivered):#,0} chunks delivered"), null,
                       TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5)))
            {
                await Turns.WorkersAsync(tasks, async i =>
                {
                    var readers = new Task[s];
                    for (var r = 0; r < s; r++)
                    {
                        readers[r] = Task.Run(async () =>
                        {
                            long mine = 0;
                            var ok = false;
                            try
                            {
                                await foreach (var e in host.Engine.StreamAsync(ids[i]))
                                {
                                    if (e is ReplyChunk)
                                        mine++;
                                    else if (e is ReplyCompleted)
                                        ok = true;
                                }
                            }
                            catch (Exception)
                            {
                                ok = false;
                            }
                            Interlocked.Add(ref delivered, mine);
                            if (!ok)
                                Interlocked.Increment(ref errors);
                        });
                    }
                    await host.Engine.ExecuteMessageAsync(ids[i], "fan out this reply to every subscriber please");
                    await Task.WhenAll(readers);
                });
            }
            var seconds = clock.Elapsed.TotalSeconds;
            var process = ProcessSample.Take().Since(p0);
            return (delivered / seconds, delivered, errors, process);
        }
    }

    private static async Task<(long Chunks, double Seconds)> BaselineAsync(Microsoft.Extensions.AI.IChatClient client, int tasks, int subscribers)
    {
        long delivered = 0;
        var clock = Stopwatch.StartNew();
        await Turns.WorkersAsync(tasks, async _ =>
        {
            var channels = Enumerable.Range(0, subscribers)
                .Select(_ => Channel.CreateUnbounded<(long Index, string Text)>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true }))
                .ToArray();
            var readers = channels.Select(c => Task.Run(async () =>
            {
                long mine = 0;
                await foreach (var _ in c.Reader.ReadAllAsync())
                    mine++;
                Interlocked.Add(ref delivered, mine);
            })).ToArray();
            var messages = new List<Microsoft.Extensions.AI.ChatMessage> { new(Microsoft.Extensions.AI.ChatRole.System, EngineHost.RenderedSystemMessage()) };
            await Turns.DirectAsync(client, messages, "fan out this reply to every subscriber please", (i, text) =>
            {
                foreach (var c in channels)
                    c.Writer.TryWrite((i, text));
            });
            foreach (var c in channels)
                c.Writer.TryComplete();
            await Task.WhenAll(readers);
        });
        return (delivered, clock.Elapsed.TotalSeconds);
    }
}
