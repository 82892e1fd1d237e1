using System.Diagnostics;
using Akka.Actor;
using Akka.Persistence;
using PromptActors.Bench.Infrastructure;
using PromptActors.Instances;

namespace PromptActors.Bench.Scenarios;

/// <summary>
/// Events persisted per second on PostgreSQL (fsync on) by many writers at once: through the engine (UpdateVariables,
/// one event per command), through bare persistent actors on the engine's journal (Persist, and PersistAll of 10; the
/// journal is PostgresJournal, or Akka.Persistence.Sql's SqlWriteJournal with --akka setting its class), and by a
/// hand-written Npgsql loop writing the same journal rows (one per transaction, and 10 per transaction).
/// </summary>
public static class PersistenceScenario
{
    private const int Batch = 10;

    private sealed record Row(string Path, long Events, double Seconds, ProcessDelta Process, PgDelta Pg)
    {
        public double Rate => Events / Seconds;
    }

    public static async Task<ScenarioResult> RunAsync(BenchOptions o)
    {
        var writers = o.Size("writers", 1000, 20);
        var perWriter = o.Size("events", 20, 4);
        var result = new ScenarioResult("persistence");
        o.Log($"persistence: {writers} writers × {perWriter} events each, PostgreSQL fsync on");

        await using var pg = await BenchPostgres.StartAsync(o);
        var (db, storage) = await pg.CreateStorageAsync();
        await using var storageLease = storage;
        await using var host = await EngineHost.StartAsync(o.Engine(new EngineHostOptions
        {
            Storage = storage.AkkaConfig(), Prompts = storage.Prompts, Variables = storage.Variables, Runs = storage.Runs,
            
        }), "bench-persistence");
        await host.WarmUpAsync();
        await using var hand = await HandWrittenStore.CreateAsync(pg.ConnectionString(db));
        var rows = new List<Row>();

        async Task<Row> MeasureAsync(string path, Func<int, Task<long>> writer)
        {
            await pg.ResetStatementsAsync();
            var pg0 = await pg.SampleAsync(db);
            var p0 = ProcessSample.Take();
            long events = 0;
            var clock = Stopwatch.StartNew();
            await Turns.WorkersAsync(writers, async w => Interlocked.Add(ref events, await writer(w)));
            var seconds = clock.Elapsed.TotalSeconds;
            var row = new Row(path, events, seconds, ProcessSample.Take().Since(p0), (await pg.SampleAsync(db)).Since(pg0));
            o.Log($"{path}: {events:#,0} events in {seconds:0.00} s = {row.Rate:#,0} events/s");
            rows.Add(row);
            return row;
        }

        // Engine: one VariablesUpdated per UpdateVariablesAsync.
        var ids = new string[writers];
        await Turns.ForEachAsync(writers, 128, async (i, ct) =>
            ids[i] = (await host.StartAsync(new ExecutionConfig(TrackInRuns: false, ShowVariables: false), ct)).InstanceId);
        await MeasureAsync("engine: UpdateVariablesAsync (Persist, 1 event per command)", async w =>
        {
            for (var k = 0; k < perWriter; k++)
                await host.Engine.UpdateVariablesAsync(ids[w], new Dictionary<string, string> { ["topic"] = "value " + k });
            return perWriter;
        });

        // Bare persistent actors on the same journal plugin and serializer.
        var probes = Enumerable.Range(0, writers)
            .Select(i => host.System.ActorOf(Props.Create(() => new JournalProbe("probe-" + Guid.NewGuid().ToString("N"))))).ToArray();
        await Task.WhenAll(probes.Select(p => p.Ask<Done>(new PersistEvents(1), TimeSpan.FromSeconds(60))));
        await MeasureAsync("bare journal: Persist (1 event per command)", async w =>
        {
            for (var k = 0; k < perWriter; k++)
                await probes[w].Ask<Done>(new PersistEvents(1), TimeSpan.FromSeconds(60));
            return perWriter;
        });
        var batches = Math.Max(1, perWriter / 2);
        await MeasureAsync($"bare journal: PersistAll ({Batch} events per command)", async w =>
        {
            for (var k = 0; k < batches; k++)
                await probes[w].Ask<Done>(new PersistEvents(Batch), TimeSpan.FromSeconds(60));
            return batches * Batch;
        });

        // Hand-written Npgsql: the same journal rows.
        await MeasureAsync("hand-written Npgsql: 1 row per transaction", async w =>
        {
            var pid = "hand-" + Guid.NewGuid().ToString("N");
            for (var k = 1; k <= perWriter; k++)
                await hand.AppendAsync(pid, k, new TaskSynced("task-" + k));
            return perWriter;
        });
        await MeasureAsync($"hand-written Npgsql: {Batch} rows per transaction", async w =>
        {
            var pid = "hand-" + Guid.NewGuid().ToString("N");
            for (var k = 0; k < batches; k++)
                await hand.AppendAllAsync(pid, 1 + k * Batch, Enumerable.Range(0, Batch).Select(i => (IInstanceEvent)new TaskSynced("task-" + i)).ToArray());
            return batches * Batch;
        });

        var single = rows.First(r => r.Path.StartsWith("hand-written Npgsql: 1", StringComparison.Ordinal));
        var batched = rows.Last();
        var t = result.Table($"{writers} concurrent writers, PostgreSQL {pg.Version} (fsync on, synchronous_commit on)",
            "path", "events/s", "vs hand-written (same batching)", "vs published", "SQL stmts/event", "WAL B/event",
            "CPU µs/event (ours)", "CPU µs/event (PostgreSQL)");
        foreach (var r in rows)
        {
            var isBatch = r.Path.Contains("PersistAll", StringComparison.Ordinal) || r.Path.Contains($"{Batch} rows", StringComparison.Ordinal);
            var reference = isBatch ? batched : single;
            var published = r.Path.Contains("PersistAll", StringComparison.Ordinal) ? Fmt.Pct(r.Rate / 13_000) + " of ~13k/s" : "";
            t.Row(r.Path, Fmt.N0(r.Rate), Fmt.Pct(r.Rate / reference.Rate), published,
                Fmt.N2((double)r.Pg.Statements / r.Events), Fmt.N0((double)r.Pg.WalBytes / r.Events),
                Fmt.N1(r.Process.CpuMs * 1000 / r.Events), Fmt.N1(r.Pg.CpuMs * 1000 / r.Events));
            result.Figure(r.Path, r.Rate);
        }
        result.Notes.Add("Akka.Persistence.Sql's published figures (~13k events/s with PersistAll, ~100k events/s recovery) were " +
                         "measured on a desktop; this machine has 2 cores shared by the benchmark process and PostgreSQL.");
        result.Notes.Add("The journal is the class of akka.persistence.journal.sql: PromptActors' PostgresJournal (one prepared " +
                         "unnest insert per batch, two writers) unless --akka sets Akka.Persistence.Sql's SqlWriteJournal (its defaults: " +
                         "batch-size 100, parallelism 3, buffer-size 5000). Events are TaskSynced / VariablesUpdated serialized by " +
                         "PromptActorsSerializer.");
        result.Figure("engine.events_per_s", rows[0].Rate);
        result.Figure("hand.events_per_s", single.Rate);
        return result;
    }

    private sealed record PersistEvents(int Count);

    private sealed record Done;

    /// <summary>A bare persistent actor on the engine's journal: persists Count events and answers when all are stored.</summary>
    private sealed class JournalProbe : ReceivePersistentActor
    {
        private static readonly Done DoneMessage = new();

        public JournalProbe(string persistenceId)
        {
            PersistenceId = persistenceId;
            Recover<TaskSynced>(_ => { });
            Command<PersistEvents>(cmd =>
            {
                var sender = Sender;
                if (cmd.Count == 1)
                {
                    Persist(new TaskSynced("probe"), _ => sender.Tell(DoneMessage));
                    return;
                }
                var left = cmd.Count;
                PersistAll(Enumerable.Range(0, cmd.Count).Select(i => new TaskSynced("probe-" + i)), _ =>
                {
                    if (--left == 0)
                        sender.Tell(DoneMessage);
                });
            });
        }

        public override string PersistenceId { get; }
    }
}
