using System.Diagnostics;
using System.Threading.Channels;
using PromptActors.Bench.Infrastructure;
using PromptActors.Instances;
using PromptActors.Models;

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
        foreach (var s in levels)
        {
            await BaselineAsync(client, Math.Min(tasks, 20), s); // warm-up
            var (directChunks, directSeconds) = await BaselineAsync(client, tasks, s);
            o.Log($"S={s}: direct {directChunks / directSeconds:#,0} chunks/s");

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
            var rate = delivered / seconds;
            o.Log($"S={s}: engine {rate:#,0} chunks/s ({delivered:#,0} chunks in {seconds:0.00} s), errors {errors}");
            var expected = (long)tasks * s * words;
            t.Row(s.ToString(), Fmt.N0(rate), Fmt.N0(directChunks / directSeconds), Fmt.Pct(rate / (directChunks / directSeconds)),
                Fmt.N2(process.CpuMs * 1000 / delivered), Fmt.Bytes((double)process.AllocatedBytes / delivered),
                $"{errors}{(delivered < expected ? $", {expected - delivered:#,0} chunks missing" : "")}", "≥ 1,000,000/s");
            result.Figure($"S{s}.engine.chunks_per_s", rate);
            result.Figure($"S{s}.direct.chunks_per_s", directChunks / directSeconds);
            result.Figure($"S{s}.errors", errors);
        }
        result.Notes.Add("Each subscriber is an engine.StreamAsync(instanceId) reader opened just before ExecuteMessageAsync; " +
                         "chunks/s = chunks received by all subscribers / wall time from the first subscription to the last terminal event.");
        return result;
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
