using System.Diagnostics;
using Microsoft.Extensions.AI;
using PromptActors.Bench.Infrastructure;
using PromptActors.Instances;
using PromptActors.Models;
using PromptActors.Prompts;

namespace PromptActors.Bench.Scenarios;

/// <summary>
/// Durable conversations: T concurrent conversations × M sequential turns, 60-word replies at zero delay, tracking on,
/// PostgreSQL with fsync and synchronous_commit on; beside a hand-written Npgsql loop that streams the same IChatClient
/// and writes the same rows (see <see cref="HandWrittenStore"/>).
/// </summary>
public static class DurableScenario
{
    private const string CompletedCount = "SELECT count(*) AS bench_probe FROM ai_tasks WHERE status = 'completed'";

    private sealed record Phase(TurnStats Stats, double ReplySeconds, double DrainSeconds, ProcessDelta Process, PgDelta Pg,
        List<(long Calls, string Query)> Top)
    {
        public long Turns => Stats.Ok;
        public double TurnsPerSecond => Turns / ReplySeconds;
        public double TurnsPerSecondDrained => Turns / DrainSeconds;
    }

    public static async Task<ScenarioResult> RunAsync(BenchOptions o)
    {
        // --long-only 1: only the WAL along one long conversation (for iterating on write amplification).
        int[] levels = o.Overrides.ContainsKey("long-only") ? []
            : o.Overrides.ContainsKey("conversations")
            ? [o.Size("conversations", 100, 4)]
            : o.Smoke ? [1, 4] : [1, 10, 100];
        var m = o.Size("turns", 10, 3);
        var minTurns = o.Size("min-turns", 2000, 8);
        var longTurns = o.Size("long-turns", 100, 6);
        var model = new LocalModelOptions { ReplyWords = 60 };
        var result = new ScenarioResult("durable");
        o.Log($"durable: T = {string.Join(", ", levels)} conversations × {m} turns (at least {minTurns} turns per level), " +
              "60-word replies, tracking on, PostgreSQL fsync on");

        await using var pg = await BenchPostgres.StartAsync(o);
        var (engineDb, storage) = await pg.CreateStorageAsync();
        await using var storageLease = storage;
        await using var host = await EngineHost.StartAsync(o.Engine(new EngineHostOptions
        {
            Storage = storage.AkkaConfig(), Prompts = storage.Prompts, Variables = storage.Variables, Runs = storage.Runs,
            Model = model,
        }), "bench-durable");
        await host.WarmUpAsync(trackInRuns: true);

        var (baseDb, baseStorage) = await pg.CreateStorageAsync();
        await using var baseStorageLease = baseStorage;
        await using var hand = await HandWrittenStore.CreateAsync(pg.ConnectionString(baseDb));
        var client = EngineHost.CreateModel(model);
        await BaselinePhaseAsync(o, pg, baseDb, hand, client, 4, 1, 2); // warm-up, not reported
        // Both sides warm up for --warmup-turns turns (1,000) before anything is measured: the code they share (the local
        // model's tokenizer, Npgsql) is compiled and re-compiled by the JIT's tiers during its first thousand calls, and
        // the side measured first used to pay for that (the engine's T=1 model start 310 us in its first quarter, 70 us in
        // its last, the loop's 64 us throughout, 2026-12-03).
        var warmRounds = Math.Max(1, o.Size("warmup-turns", 1000, 8) / m);
        o.Log($"warm-up: {warmRounds * m} turns each, not reported …");
        await EnginePhaseAsync(o, pg, engineDb, host, 1, warmRounds, m);
        await BaselinePhaseAsync(o, pg, baseDb, hand, client, 1, warmRounds, m);

        var table = result.Table($"T concurrent conversations × {m} turns, 60-word replies, PostgreSQL {pg.Version} (fsync on)",
            ["metric", .. levels.SelectMany(t => new[] { $"engine T={t}", $"hand-written T={t}" })]);
        var rows = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        void Cell(string metric, string value)
        {
            if (!rows.TryGetValue(metric, out var list))
                rows[metric] = list = new List<string>();
            list.Add(value);
        }
        var tops = new List<(int T, Phase Engine, Phase Baseline)>();

        foreach (var t in levels)
        {
            var rounds = Math.Max(1, (int)Math.Ceiling(minTurns / (double)(t * m)));
            o.Log($"T={t}: engine, {rounds} round(s) of {t} × {m} turns …");
            var e = await EnginePhaseAsync(o, pg, engineDb, host, t, rounds, m);
            o.Log($"T={t}: engine {e.TurnsPerSecond:0} turns/s (drained {e.TurnsPerSecondDrained:0}), errors {e.Stats.ErrorSummary()}");
            o.Log($"T={t}: hand-written …");
            var b = await BaselinePhaseAsync(o, pg, baseDb, hand, client, t, rounds, m);
            o.Log($"T={t}: hand-written {b.TurnsPerSecond:0} turns/s");
            tops.Add((t, e, b));

            Cell("turns/s (replies)", Fmt.N0(e.TurnsPerSecond));
            Cell("turns/s (replies)", Fmt.N0(b.TurnsPerSecond));
            Cell("turns/s incl. outbox drain", Fmt.N0(e.TurnsPerSecondDrained));
            Cell("turns/s incl. outbox drain", Fmt.N0(b.TurnsPerSecondDrained));
            Cell("engine / hand-written", Fmt.Pct(e.TurnsPerSecond / b.TurnsPerSecond));
            Cell("engine / hand-written", "");
            foreach (var (name, pick) in new (string, Func<Phase, LatencyRecorder>)[] { ("TTFT", p => p.Stats.Ttft), ("total", p => p.Stats.Total) })
            {
                Cell($"{name} p50", Fmt.Ms(pick(e).P50));
                Cell($"{name} p50", Fmt.Ms(pick(b).P50));
                Cell($"{name} p99", Fmt.Ms(pick(e).P99));
                Cell($"{name} p99", Fmt.Ms(pick(b).P99));
            }
            foreach (var p in new[] { e, b })
            {
                Cell("CPU ms/turn, this process", Fmt.N2(p.Process.CpuMs / p.Turns));
                Cell("CPU ms/turn, PostgreSQL", Fmt.N2(p.Pg.CpuMs / p.Turns));
                Cell("SQL statements/turn", Fmt.N1((double)p.Pg.Statements / p.Turns));
                Cell("WAL bytes/turn", Fmt.N0((double)p.Pg.WalBytes / p.Turns));
                Cell("allocated/turn", Fmt.Bytes((double)p.Process.AllocatedBytes / p.Turns));
                Cell("turns (errors)", $"{p.Turns} ({p.Stats.Errors})");
                Cell("checkpoints during phase", p.Pg.Checkpoints.ToString());
            }
            result.Figure($"T{t}.engine.turns_per_s", e.TurnsPerSecond);
            result.Figure($"T{t}.engine.turns_per_s_drained", e.TurnsPerSecondDrained);
            result.Figure($"T{t}.baseline.turns_per_s", b.TurnsPerSecond);
            result.Figure($"T{t}.ratio", e.TurnsPerSecond / b.TurnsPerSecond);
            result.Figure($"T{t}.engine.ttft_p99_ms", e.Stats.Ttft.P99);
            result.Figure($"T{t}.engine.wal_per_turn", (double)e.Pg.WalBytes / e.Turns);
            result.Figure($"T{t}.engine.statements_per_turn", (double)e.Pg.Statements / e.Turns);
            result.Figure($"T{t}.engine.errors", e.Stats.Errors);
        }
        foreach (var (metric, cells) in rows)
            table.Row([metric, .. cells]);

        if (tops.Count > 0)
        {
        var top = tops[^1];
        var topTable = result.Table($"SQL statements per turn at T={top.T} (pg_stat_statements, calls / turns)",
            "calls/turn", "path", "statement");
        foreach (var (calls, query) in top.Engine.Top.Take(14))
            topTable.Row(Fmt.N2((double)calls / top.Engine.Turns), "engine", Short(query));
        foreach (var (calls, query) in top.Baseline.Top.Take(8))
            topTable.Row(Fmt.N2((double)calls / top.Baseline.Turns), "hand-written", Short(query));
        }

        o.Log($"WAL per turn along one conversation of {longTurns} turns …");
        var engineRun = await EngineLongConversationAsync(pg, engineDb, host, longTurns);
        var engineWal = engineRun.Wal;
        var baseRun = await BaselineLongConversationAsync(pg, baseDb, hand, client, longTurns);
        var baseWal = baseRun.Wal;
        var walTable = result.Table($"WAL bytes per turn along one conversation of {longTurns} turns (measured alone, after the outbox drained)",
            "turn", "engine", "hand-written");
        foreach (var k in new[] { 1, 10, 33, 34, 67, 99, 100 }.Concat(SnapshotTurns).Where(k => k <= longTurns).Append(longTurns)
                     .Distinct().Order())
            walTable.Row(k + SnapshotMark(k), Fmt.N0(engineWal[k - 1]), Fmt.N0(baseWal[k - 1]));
        walTable.Row($"mean of turns 1–{longTurns}", Fmt.N0(engineWal.Average()), Fmt.N0(baseWal.Average()));
        var third = Math.Max(1, longTurns / 3);
        walTable.Row($"mean of turns 1–{third}", Fmt.N0(engineWal.Take(third).Average()), Fmt.N0(baseWal.Take(third).Average()));
        walTable.Row($"mean of turns {longTurns - third + 1}–{longTurns}", Fmt.N0(engineWal.TakeLast(third).Average()), Fmt.N0(baseWal.TakeLast(third).Average()));
        walTable.Row("median turn", Fmt.N0(Median(engineWal)), Fmt.N0(Median(baseWal)));
        var plainTurns = engineWal.Where((_, i) => !SnapshotTurns.Contains(i + 1)).ToArray();
        walTable.Row("highest turn without a snapshot", Fmt.N0(plainTurns.Max()), Fmt.N0(baseWal.Max()));
        walTable.Row("turns over 3,000 B (snapshot turns included)", engineWal.Count(w => w > 3000).ToString(), baseWal.Count(w => w > 3000).ToString());
        o.Log("engine WAL per turn: " + string.Join(' ', engineWal.Select(w => w.ToString("0", System.Globalization.CultureInfo.InvariantCulture))));
        foreach (var (name, db, (from, to)) in new[] { ("engine", engineDb, engineRun.Span), ("hand-written", baseDb, baseRun.Span) })
        {
            var breakdown = await pg.WalBreakdownAsync(db, from, to);
            var bt = result.Table($"where the WAL of that conversation went, {name} (pg_walinspect, bytes per turn; records without a relation grouped by kind)",
                "relation", "record", "records/turn", "bytes/turn");
            foreach (var (rel, record, count, bytes) in breakdown.Take(24))
                bt.Row(rel, record, Fmt.N2((double)count / longTurns), Fmt.N0((double)bytes / longTurns));
            bt.Row("total", "", Fmt.N2((double)breakdown.Sum(b => b.Count) / longTurns), Fmt.N0((double)breakdown.Sum(b => b.Bytes) / longTurns));
        }
        foreach (var k in new[] { 1, Array.IndexOf(engineWal, engineWal.Max()) + 1 }.Distinct())
        {
            var (from, to) = engineRun.Turns[k - 1];
            var tt = result.Table($"where the WAL of turn {k}{SnapshotMark(k)} of that conversation went, engine (bytes)",
                "relation", "record", "records", "bytes");
            foreach (var (rel, record, count, bytes) in (await pg.WalBreakdownAsync(engineDb, from, to)).Take(16))
                tt.Row(rel, record, Fmt.N0(count), Fmt.N0(bytes));
        }
        if (o.Overrides.ContainsKey("dump-turns"))
            foreach (var k in o.Overrides["dump-turns"].Split(',').Select(int.Parse))
            {
                o.Log($"WAL records of turn {k}:");
                foreach (var line in await pg.WalRecordsAsync(engineDb, engineRun.Turns[k - 1].From, engineRun.Turns[k - 1].To))
                    o.Log("  " + line);
            }
        var rowsTable = result.Table("journal rows of the engine (all instances of the run): bytes per row by event",
            "manifest", "rows", "payload bytes (avg)", "row bytes (avg, pg_column_size)");
        foreach (var (manifest, count, payload, row) in await pg.JournalRowsAsync(engineDb))
            rowsTable.Row(manifest, Fmt.N0(count), Fmt.N0(payload), Fmt.N0(row));
        result.Figure("long.engine.wal_turn1", engineWal[0]);
        result.Figure("long.engine.wal_last", engineWal[^1]);
        result.Figure("long.engine.wal_median", Median(engineWal));

        if (tops.Count == 0)
            return result;
        var at100 = tops[^1];
        var targets = result.Table($"targets at T={at100.T}", "metric", "measured", "target", "verdict");
        targets.Row("turns/s", Fmt.N0(at100.Engine.TurnsPerSecond), "≥ 2,000", Fmt.Verdict(at100.Engine.TurnsPerSecond >= 2000));
        targets.Row("vs hand-written loop", Fmt.Pct(at100.Engine.TurnsPerSecond / at100.Baseline.TurnsPerSecond), "≥ 70 %",
            Fmt.Verdict(at100.Engine.TurnsPerSecond / at100.Baseline.TurnsPerSecond >= 0.7));
        targets.Row("TTFT p99", Fmt.Ms(at100.Engine.Stats.Ttft.P99), "≤ 20 ms", Fmt.Verdict(at100.Engine.Stats.Ttft.P99 <= 20));
        var walPerTurn = (double)at100.Engine.Pg.WalBytes / at100.Engine.Turns;
        targets.Row("WAL per turn", Fmt.Bytes(walPerTurn), "≤ 3 KB", Fmt.Verdict(walPerTurn <= 3000));
        var firstThird = engineWal.Take(third).Average();
        var lastThird = engineWal.TakeLast(third).Average();
        targets.Row($"WAL per turn flat (mean of the last {third} turns vs the first {third}, snapshots included)",
            $"{Fmt.N0(lastThird)} vs {Fmt.N0(firstThird)} B", "flat", Fmt.Verdict(lastThird <= firstThird * 1.25));
        var median = Median(engineWal);
        targets.Row("WAL per turn along one conversation (median turn / mean with snapshots)",
            $"{Fmt.N0(median)} / {Fmt.N0(engineWal.Average())} B", "≤ 3 KB", Fmt.Verdict(engineWal.Average() <= 3000));

        result.Notes.Add(BenchPostgres.Describe + ".");
        result.Notes.Add("Statements are counted with pg_stat_statements (track = all, utility statements such as BEGIN/COMMIT included), " +
                         "per database, reset before each phase; the bench's own probes are excluded. PostgreSQL CPU is utime+stime of " +
                         "every server process from /proc (plus cutime+cstime of the postmaster for exited backends).");
        result.Notes.Add("'turns/s (replies)' counts until the last reply reached its caller; 'incl. outbox drain' until the engine's " +
                         "outbox had written every final ai_tasks row and persisted its TaskSynced. CPU, statements and WAL include the drain.");
        result.Notes.Add("Hand-written loop per turn: tx 1 before the model call = INSERT journal(MessageSubmitted) + INSERT … ON CONFLICT " +
                         "ai_runs (create / running, task_count+1) + INSERT ai_tasks(pending); tx 2 after the stream = INSERT " +
                         "journal(ExecutionCompleted) + UPDATE ai_tasks(final row) + UPDATE ai_runs(totals incremented). Each tx is one " +
                         "NpgsqlBatch plus COMMIT. Its TTFT includes tx 1, its total includes tx 2.");
        result.Notes.Add($"Turns marked * include an instance snapshot (at least {new PromptActors.Engine.PromptActorsOptions().Instances.SnapshotEvery} " +
                         "events apart, and only once as much conversation text was journaled since the last one as it held): a snapshot " +
                         "holds the whole conversation, and deleting the one before it is in the same turn.");
        return result;
    }

    // Turns of the long conversation during which the instance saved a snapshot (seen in the snapshot table).
    private static readonly List<int> SnapshotTurns = new();

    private static string SnapshotMark(int turn) => SnapshotTurns.Contains(turn) ? " *" : "";

    private static double Median(double[] values)
    {
        var sorted = values.Order().ToArray();
        return sorted[sorted.Length / 2];
    }

    private static string Short(string query)
    {
        var q = query.Trim();
        return (q.Length > 140 ? q[..140] + " …" : q).Replace("|", "\\|", StringComparison.Ordinal);
    }

    private static async Task<Phase> EnginePhaseAsync(BenchOptions o, BenchPostgres pg, string db, EngineHost host, int t, int rounds, int m)
    {
        var ids = new string[t * rounds];
        await Turns.ForEachAsync(ids.Length, 64, async (i, ct) =>
            ids[i] = (await host.StartAsync(new ExecutionConfig(TrackInRuns: true, ShowVariables: false), ct)).InstanceId);
        await QuiesceAsync(pg, db);
        var completed0 = await pg.ScalarAsync(db, CompletedCount);

        await pg.ResetStatementsAsync();
        var pg0 = await pg.SampleAsync(db);
        var p0 = ProcessSample.Take();
        var stats = new TurnStats();
        var clock = Stopwatch.StartNew();
        using (OverheadScenario.Progress(o, stats, (long)t * rounds * m))
        {
            for (var r = 0; r < rounds; r++)
            {
                var round = r;
                await Turns.WorkersAsync(t, async w =>
                {
                    for (var turn = 0; turn < m; turn++)
                        stats.Add(await Turns.EngineAsync(host.Engine, ids[round * t + w], EngineHost.UserInput(turn)));
                });
            }
        }
        var replies = clock.Elapsed.TotalSeconds;
        try
        {
            await pg.WaitForCountAsync(db, CompletedCount, completed0 + stats.Ok, TimeSpan.FromMinutes(2));
            await QuiesceAsync(pg, db);
        }
        catch (TimeoutException ex)
        {
            o.Log("outbox did not drain: " + ex.Message);
        }
        var drained = clock.Elapsed.TotalSeconds;
        var process = ProcessSample.Take().Since(p0);
        var pgDelta = (await pg.SampleAsync(db)).Since(pg0);
        return new Phase(stats, replies, drained, process, pgDelta, await pg.TopStatementsAsync(db, 20));
    }

    private static async Task<Phase> BaselinePhaseAsync(BenchOptions o, BenchPostgres pg, string db, HandWrittenStore hand,
        IChatClient client, int t, int rounds, int m)
    {
        var conversations = new HandWrittenStore.Conversation[t * rounds];
        await Turns.ForEachAsync(conversations.Length, 64, async (i, ct) =>
        {
            var c = conversations[i] = new HandWrittenStore.Conversation(Guid.NewGuid().ToString("N"));
            await hand.StartAsync(c, Started(c.PersistenceId), ct);
        });

        await pg.ResetStatementsAsync();
        var pg0 = await pg.SampleAsync(db);
        var p0 = ProcessSample.Take();
        var stats = new TurnStats();
        var clock = Stopwatch.StartNew();
        using (OverheadScenario.Progress(o, stats, (long)t * rounds * m))
        {
            for (var r = 0; r < rounds; r++)
            {
                var round = r;
                await Turns.WorkersAsync(t, async w =>
                {
                    var conversation = conversations[round * t + w];
                    var messages = new List<ChatMessage> { new(ChatRole.System, EngineHost.RenderedSystemMessage()) };
                    for (var turn = 0; turn < m; turn++)
                        stats.Add(await BaselineTurnAsync(hand, client, conversation, messages, EngineHost.UserInput(turn)));
                });
            }
        }
        var seconds = clock.Elapsed.TotalSeconds;
        var process = ProcessSample.Take().Since(p0);
        var pgDelta = (await pg.SampleAsync(db)).Since(pg0);
        return new Phase(stats, seconds, seconds, process, pgDelta, await pg.TopStatementsAsync(db, 20));
    }

    internal static InstanceStarted Started(string id) => new(id, EngineHost.PromptId, 1, EngineHost.Scope,
        new Dictionary<string, string>(), new ExecutionConfig(ShowVariables: false), new RunSource("prompt", EngineHost.PromptId),
        "bench", false, EngineHost.Prompt.Settings ?? PromptSettings.Default, DateTimeOffset.UtcNow);

    /// <summary>One turn of the hand-written loop: tx 1, stream, tx 2 (see <see cref="HandWrittenStore"/>).</summary>
    internal static async Task<TurnResult> BaselineTurnAsync(HandWrittenStore hand, IChatClient client,
        HandWrittenStore.Conversation conversation, List<ChatMessage> messages, string input)
    {
        var start = Stopwatch.GetTimestamp();
        try
        {
            var taskId = Guid.NewGuid().ToString("N");
            await hand.BeginTurnAsync(conversation, new MessageSubmitted(taskId, conversation.Turns == 0 ? conversation.RunId : null,
                input, LocalChatClient.ModelId, "local", DateTimeOffset.UtcNow));
            var before = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            var (turn, usage) = await Turns.DirectAsync(client, messages, input);
            if (!turn.Ok)
                return turn;
            var ttft = before + turn.TtftMs;
            var tokens = new TokenUsage(usage?.InputTokenCount ?? 0, usage?.OutputTokenCount ?? 0);
            await hand.EndTurnAsync(conversation, new ExecutionCompleted(taskId, turn.Text, tokens, HandWrittenStore.Cost(tokens),
                ttft, Stopwatch.GetElapsedTime(start).TotalMilliseconds, DateTimeOffset.UtcNow));
            return turn with { TtftMs = ttft, TotalMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds };
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return TurnResult.Failed(start, ex.GetType().Name + ": " + ex.Message);
        }
    }

    /// <summary>Waits until the WAL stops moving (trailing asynchronous writes have landed).</summary>
    private static async Task<long> QuiesceAsync(BenchPostgres pg, string db, int stableMs = 60)
    {
        var last = (await pg.SampleAsync(db)).WalBytes;
        var stableSince = Stopwatch.StartNew();
        var deadline = Stopwatch.StartNew();
        while (stableSince.ElapsedMilliseconds < stableMs && deadline.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(25);
            var now = (await pg.SampleAsync(db)).WalBytes;
            if (now != last)
            {
                last = now;
                stableSince.Restart();
            }
        }
        return last;
    }

    private static async Task<(double[] Wal, (long From, long To) Span, (long From, long To)[] Turns)> EngineLongConversationAsync(
        BenchPostgres pg, string db, EngineHost host, int turns)
    {
        var id = (await host.StartAsync(new ExecutionConfig(TrackInRuns: true, ShowVariables: false))).InstanceId;
        var wal = new double[turns];
        var spans = new (long, long)[turns];
        var before = await QuiesceAsync(pg, db);
        var first = before;
        long lastSnapshot = 0;
        string? runId = null;
        SnapshotTurns.Clear();
        for (var k = 1; k <= turns; k++)
        {
            var turn = await Turns.EngineAsync(host.Engine, id, EngineHost.UserInput(k));
            if (!turn.Ok)
                throw new InvalidOperationException($"turn {k} failed: {turn.Error}");
            // The turn ends when the WAL stops moving (the outbox's final row is written a few ms after the reply). The
            // bench reads no table during the turns: any read of a page prunes the dead row versions on it, and that
            // WAL would count against the turn (polling the run's task rows did so after every change). The rows are
            // checked once, after the last turn.
            runId ??= (await host.Engine.GetInstanceAsync(id)).RunTracking.RunId
                      ?? throw new InvalidOperationException("the conversation has no run after its first turn");
            var after = await QuiesceAsync(pg, db, stableMs: 150);
            wal[k - 1] = after - before;
            spans[k - 1] = (before, after);
            before = after;
            var snapshotAt = await pg.ScalarAsync(db, "SELECT COALESCE(max(sequence_number), 0) AS bench_probe FROM snapshot " +
                $"WHERE persistence_id = 'execution-instance-{id}'");
            if (snapshotAt != lastSnapshot)
                SnapshotTurns.Add(k);
            lastSnapshot = snapshotAt;
        }
        await pg.WaitForCountAsync(db, "SELECT count(*) AS bench_probe FROM ai_tasks " +
            $"WHERE run_id = '{runId}' AND status = 'completed'", turns, TimeSpan.FromSeconds(30));
        return (wal, (first, before), spans);
    }

    private static async Task<(double[] Wal, (long From, long To) Span)> BaselineLongConversationAsync(BenchPostgres pg, string db, HandWrittenStore hand,
        IChatClient client, int turns)
    {
        var conversation = new HandWrittenStore.Conversation(Guid.NewGuid().ToString("N"));
        await hand.StartAsync(conversation, Started(conversation.PersistenceId));
        var messages = new List<ChatMessage> { new(ChatRole.System, EngineHost.RenderedSystemMessage()) };
        var wal = new double[turns];
        var before = await QuiesceAsync(pg, db);
        var first = before;
        for (var k = 1; k <= turns; k++)
        {
            var turn = await BaselineTurnAsync(hand, client, conversation, messages, EngineHost.UserInput(k));
            if (!turn.Ok)
                throw new InvalidOperationException($"baseline turn {k} failed: {turn.Error}");
            var after = await QuiesceAsync(pg, db);
            wal[k - 1] = after - before;
            before = after;
        }
        return (wal, (first, before));
    }
}
