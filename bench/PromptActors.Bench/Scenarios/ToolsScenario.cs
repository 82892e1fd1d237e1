using System.Diagnostics;
using Microsoft.Extensions.AI;
using PromptActors.Bench.Infrastructure;
using PromptActors.Instances;
using PromptActors.Models;
using PromptActors.Prompts;
using PromptActors.Tools;
using PromptActors.Engine;

namespace PromptActors.Bench.Scenarios;

/// <summary>
/// Durable tool turns: T concurrent conversations × M turns whose message makes the <c>local</c> model call 0, 1 or 3 tools
/// (one step of parallel calls), then answer with 60 words; PostgreSQL with fsync on. Beside a hand-written Npgsql loop
/// that streams the same model, runs the same tool and journals the same events (MessageSubmitted; ToolCallsRequested;
/// one ToolCallFinished per call; ExecutionCompleted with the task row, the run totals and the ai_tool_calls rows).
/// </summary>
public static class ToolsScenario
{
    private const string PromptId = "bench-tools";
    private const string CompletedCount = "SELECT count(*) AS bench_probe FROM ai_tasks WHERE status = 'completed' AND step = 0";

    private static readonly AIFunction Lookup = AIFunctionFactory.Create(
        (string id) => new { id, status = "shipped", carrier = "DHL", eta = "2 days" }, "bench_lookup", "Looks an order up.");

    private static readonly PromptDefinition Prompt = new(PromptId, "Benchmark tools",
        [new PromptMessage(MessageRole.System, "You are a concise assistant for {{org_name}}. Look orders up before you answer.")],
        "benchmark tool prompt", [new VariableDefault("org_name", "Acme")],
        new PromptSettings(LocalChatClient.ModelId, Temperature: 1, MaxTokens: 4096, Tools: ["bench_lookup"]));

    private sealed record Phase(TurnStats Stats, double Seconds, ProcessDelta Process, PgDelta Pg)
    {
        public double PerTurn(double total) => total / Stats.Ok;
        public double TurnsPerSecond => Stats.Ok / Seconds;
    }

    public static string Input(int turn, int tools) =>
        $"Question {turn}: " + string.Concat(Enumerable.Range(0, tools).Select(i => $"bench_lookup {{\"id\":\"o{turn}-{i}\"}} ")) +
        "and tell me about the river, the museums and the old town of Paris in spring";

    public static async Task<ScenarioResult> RunAsync(BenchOptions o)
    {
        int[] levels = o.Smoke ? [4] : [10, 100];
        int[] toolCounts = [0, 1, 3];
        var m = o.Size("turns", 5, 2);
        var minTurns = o.Size("min-turns", 1000, 8);
        var model = new LocalModelOptions { ReplyWords = 60 };
        var result = new ScenarioResult("tools");
        o.Log($"tools: T = {string.Join(", ", levels)} × {m} turns, 0/1/3 tool calls per turn, PostgreSQL fsync on");

        await using var pg = await BenchPostgres.StartAsync(o);
        var (engineDb, storage) = await pg.CreateStorageAsync();
        await using var storageLease = storage;
        await using var host = await EngineHost.StartAsync(o.Engine(new EngineHostOptions
        {
            Storage = storage.AkkaConfig(), Prompts = storage.Prompts, Variables = storage.Variables, Runs = storage.Runs,
            Model = model, Configure = opt => opt.Tools.Add(Lookup, ToolPolicy.Idempotent),
        }), "bench-tools");
        await host.WarmUpAsync(trackInRuns: true);
        await host.Engine.SavePromptAsync(Prompt);
        await EnginePhaseAsync(pg, engineDb, host, 4, 1, 2, 1); // warm the tool path

        var (baseDb, baseStorage) = await pg.CreateStorageAsync();
        await using var baseStorageLease = baseStorage;
        await using var hand = await HandWrittenStore.CreateAsync(pg.ConnectionString(baseDb));
        var client = EngineHost.CreateModel(model);
        await BaselinePhaseAsync(pg, baseDb, hand, client, 4, 1, 2, 1);

        var table = result.Table($"T conversations × {m} turns with k tool calls each, 60-word answers, PostgreSQL {pg.Version} (fsync on)",
            "T", "tool calls", "engine turns/s", "hand-written turns/s", "engine / hand-written", "CPU ms/turn engine (hand)",
            "PG CPU ms/turn engine (hand)", "WAL B/turn engine (hand)", "statements/turn engine (hand)", "errors");
        var steps = result.Table("what one tool step adds (a model call that asks for k tools, the calls, their results), against a plain turn",
            "T", "tool calls", "WAL B/step engine (hand)", "step WAL / plain turn WAL", "CPU ms/step engine (hand)", "step CPU / plain turn CPU");
        foreach (var t in levels)
        {
            var rounds = Math.Max(1, (int)Math.Ceiling(minTurns / (double)(t * m)));
            var plain = ((Phase Engine, Phase Hand)?)null;
            foreach (var k in toolCounts)
            {
                o.Log($"T={t}, {k} tool call(s): engine …");
                var e = await EnginePhaseAsync(pg, engineDb, host, t, rounds, m, k);
                o.Log($"T={t}, {k}: engine {e.TurnsPerSecond:0} turns/s; hand-written …");
                var b = await BaselinePhaseAsync(pg, baseDb, hand, client, t, rounds, m, k);
                o.Log($"T={t}, {k}: hand-written {b.TurnsPerSecond:0} turns/s");
                double Cpu(Phase p) => p.PerTurn(p.Process.CpuMs + p.Pg.CpuMs);
                table.Row(t.ToString(), k.ToString(), Fmt.N0(e.TurnsPerSecond), Fmt.N0(b.TurnsPerSecond), Fmt.Pct(e.TurnsPerSecond / b.TurnsPerSecond),
                    $"{Fmt.N2(e.PerTurn(e.Process.CpuMs))} ({Fmt.N2(b.PerTurn(b.Process.CpuMs))})",
                    $"{Fmt.N2(e.PerTurn(e.Pg.CpuMs))} ({Fmt.N2(b.PerTurn(b.Pg.CpuMs))})",
                    $"{Fmt.N0(e.PerTurn(e.Pg.WalBytes))} ({Fmt.N0(b.PerTurn(b.Pg.WalBytes))})",
                    $"{Fmt.N1(e.PerTurn(e.Pg.Statements))} ({Fmt.N1(b.PerTurn(b.Pg.Statements))})",
                    $"{e.Stats.Errors} ({b.Stats.Errors})");
                result.Figure($"T{t}.k{k}.engine.turns_per_s", e.TurnsPerSecond);
                result.Figure($"T{t}.k{k}.ratio", e.TurnsPerSecond / b.TurnsPerSecond);
                result.Figure($"T{t}.k{k}.engine.wal_per_turn", e.PerTurn(e.Pg.WalBytes));
                result.Figure($"T{t}.k{k}.engine.errors", e.Stats.Errors);
                if (plain is not { } p0)
                {
                    plain = (e, b);
                    continue;
                }
                var stepWal = e.PerTurn(e.Pg.WalBytes) - p0.Engine.PerTurn(p0.Engine.Pg.WalBytes);
                var stepWalHand = b.PerTurn(b.Pg.WalBytes) - p0.Hand.PerTurn(p0.Hand.Pg.WalBytes);
                var stepCpu = Cpu(e) - Cpu(p0.Engine);
                var stepCpuHand = Cpu(b) - Cpu(p0.Hand);
                steps.Row(t.ToString(), k.ToString(), $"{Fmt.N0(stepWal)} ({Fmt.N0(stepWalHand)})",
                    Fmt.Pct(stepWal / p0.Engine.PerTurn(p0.Engine.Pg.WalBytes)), $"{Fmt.N2(stepCpu)} ({Fmt.N2(stepCpuHand)})",
                    Fmt.Pct(stepCpu / Cpu(p0.Engine)));
                result.Figure($"T{t}.k{k}.step_wal_vs_plain", stepWal / p0.Engine.PerTurn(p0.Engine.Pg.WalBytes));
                result.Figure($"T{t}.k{k}.step_cpu_vs_plain", stepCpu / Cpu(p0.Engine));
            }
        }
        result.Notes.Add(BenchPostgres.Describe + ".");
        result.Notes.Add("A tool step is what a turn with k tool calls costs beyond a plain turn at the same T: one more model call " +
                         "(the one that asks for the tools), the calls themselves and their journal rows, and k ai_tool_calls rows. " +
                         "CPU is this process plus PostgreSQL. Engine and hand-written loop journal the same events; the hand-written " +
                         "loop writes each event in its own transaction as the engine persists them, and the ledger rows with the final task row.");
        return result;
    }

    private static async Task<Phase> EnginePhaseAsync(BenchPostgres pg, string db, EngineHost host, int t, int rounds, int m, int tools)
    {
        var ids = new string[t * rounds];
        await Turns.ForEachAsync(ids.Length, 64, async (i, ct) => ids[i] = (await host.Engine.StartInstanceAsync(
            new StartInstanceRequest(PromptId, EngineHost.Scope, ExecutionConfig: new ExecutionConfig(TrackInRuns: true, ShowVariables: false),
                RunName: "bench"), ct)).InstanceId);
        var completed0 = await pg.ScalarAsync(db, CompletedCount);
        return await MeasureAsync(pg, db, t, rounds, async (conversation, stats) =>
        {
            for (var turn = 0; turn < m; turn++)
                stats.Add(await Turns.EngineAsync(host.Engine, ids[conversation], Input(turn, tools)));
        }, async stats =>
        {
            try
            {
                await pg.WaitForCountAsync(db, CompletedCount, completed0 + stats.Ok, TimeSpan.FromMinutes(2));
            }
            catch (TimeoutException)
            {
                // reported through the counts
            }
        });
    }

    private static async Task<Phase> BaselinePhaseAsync(BenchPostgres pg, string db, HandWrittenStore hand, IChatClient client, int t,
        int rounds, int m, int tools)
    {
        var conversations = new HandWrittenStore.Conversation[t * rounds];
        await Turns.ForEachAsync(conversations.Length, 64, async (i, ct) =>
        {
            var c = conversations[i] = new HandWrittenStore.Conversation(Guid.NewGuid().ToString("N"));
            await hand.AppendAsync(c.PersistenceId, ++c.Sequence, new VariablesUpdated(new Dictionary<string, string>(), [], DateTimeOffset.UtcNow), ct);
        });
        var options = ChatOptionsMapper.ToChatOptions(Prompt.Settings!, LocalChatClient.ModelId, new ToolCollection().Add(Lookup));
        return await MeasureAsync(pg, db, t, rounds, async (index, stats) =>
        {
            var messages = new List<ChatMessage> { new(ChatRole.System, "You are a concise assistant for Acme. Look orders up before you answer.") };
            for (var turn = 0; turn < m; turn++)
                stats.Add(await HandWrittenTurnAsync(hand, client, options, conversations[index], messages, Input(turn, tools)));
        }, null);
    }

    /// <summary>
    /// Runs <paramref name="rounds"/> rounds of <paramref name="t"/> conversations at once (conversation index = round × t +
    /// worker), then <paramref name="drain"/>, and measures this process and PostgreSQL over all of it.
    /// </summary>
    private static async Task<Phase> MeasureAsync(BenchPostgres pg, string db, int t, int rounds, Func<int, TurnStats, Task> conversation,
        Func<TurnStats, Task>? drain)
    {
        await pg.ResetStatementsAsync();
        var pg0 = await pg.SampleAsync(db);
        var p0 = ProcessSample.Take();
        var stats = new TurnStats();
        var clock = Stopwatch.StartNew();
        for (var r = 0; r < rounds; r++)
        {
            var round = r;
            await Turns.WorkersAsync(t, w => conversation(round * t + w, stats));
        }
        if (drain is not null)
            await drain(stats);
        var seconds = clock.Elapsed.TotalSeconds;
        return new Phase(stats, seconds, ProcessSample.Take().Since(p0), (await pg.SampleAsync(db)).Since(pg0));
    }

    /// <summary>A tool turn written by hand: the model loop with the same journal events and rows as the engine.</summary>
    private static async Task<TurnResult> HandWrittenTurnAsync(HandWrittenStore hand, IChatClient client, ChatOptions options,
        HandWrittenStore.Conversation conversation, List<ChatMessage> messages, string input)
    {
        var start = Stopwatch.GetTimestamp();
        try
        {
            var taskId = Guid.NewGuid().ToString("N");
            await hand.BeginTurnAsync(conversation, new MessageSubmitted(taskId, conversation.Turns == 0 ? conversation.RunId : null,
                input, LocalChatClient.ModelId, "local", DateTimeOffset.UtcNow));
            messages.Add(new ChatMessage(ChatRole.User, input));
            var ledger = new List<HandWrittenStore.LedgerRow>();
            var laterCalls = new List<HandWrittenStore.StepRow>();
            var ttft = double.NaN;
            long inTokens = 0, outTokens = 0;
            for (var step = 0; ; step++)
            {
                var (stepIn, stepOut, stepStart) = (inTokens, outTokens, DateTimeOffset.UtcNow);
                var text = new System.Text.StringBuilder();
                var calls = new List<FunctionCallContent>();
                await foreach (var update in client.GetStreamingResponseAsync(messages, options))
                {
                    foreach (var content in update.Contents)
                    {
                        if (content is UsageContent u)
                            (inTokens, outTokens) = (inTokens + (u.Details.InputTokenCount ?? 0), outTokens + (u.Details.OutputTokenCount ?? 0));
                        else if (content is FunctionCallContent call)
                            calls.Add(call);
                    }
                    if (update.Text is { Length: > 0 } piece)
                    {
                        if (double.IsNaN(ttft))
                            ttft = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                        text.Append(piece);
                    }
                }
                if (step > 0)
                    laterCalls.Add(new HandWrittenStore.StepRow(step, new TokenUsage(inTokens - stepIn, outTokens - stepOut), stepStart,
                        DateTimeOffset.UtcNow));
                if (calls.Count == 0)
                {
                    var usage = new TokenUsage(inTokens, outTokens);
                    messages.Add(new ChatMessage(ChatRole.Assistant, text.ToString()));
                    await hand.EndTurnAsync(conversation, new ExecutionCompleted(taskId, text.ToString(), usage, HandWrittenStore.Cost(usage),
                        ttft, Stopwatch.GetElapsedTime(start).TotalMilliseconds, DateTimeOffset.UtcNow), default, ledger, laterCalls);
                    return new TurnResult(true, ttft, Stopwatch.GetElapsedTime(start).TotalMilliseconds, 1, null);
                }
                var requested = calls.Select(c => new RequestedToolCall(c.CallId, c.Name, ToolPlanner.Arguments(c), ToolCallStatus.Running,
                    ToolPolicy.Idempotent)).ToArray();
                await hand.AppendAsync(conversation.PersistenceId, ++conversation.Sequence, new ToolCallsRequested(taskId, step, text.ToString(),
                    requested, TokenUsage.None, 0m, null, 0, DateTimeOffset.UtcNow));
                messages.Add(new ChatMessage(ChatRole.Assistant, [.. calls]));
                var started = DateTimeOffset.UtcNow;
                var results = await Task.WhenAll(calls.Select(async c =>
                {
                    var value = await Lookup.InvokeAsync(new AIFunctionArguments(c.Arguments ?? new Dictionary<string, object?>()));
                    var result = ToolResults.Format(value, 16 * 1024);
                    await hand.AppendAsync(conversation.PersistenceId, conversation.NextSequence(),
                        new ToolCallFinished(taskId, c.CallId, ToolCallStatus.Completed, result, 0, DateTimeOffset.UtcNow));
                    return (c, result);
                }));
                foreach (var (c, result) in results)
                {
                    messages.Add(new ChatMessage(ChatRole.Tool, [new FunctionResultContent(c.CallId, result)]));
                    ledger.Add(new HandWrittenStore.LedgerRow(c.CallId, c.Name, ToolPlanner.Arguments(c), result, step, started, DateTimeOffset.UtcNow));
                }
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return TurnResult.Failed(start, ex.GetType().Name + ": " + ex.Message);
        }
    }
}
