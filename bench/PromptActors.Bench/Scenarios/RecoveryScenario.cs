using System.Diagnostics;
using Npgsql;
using PromptActors.Bench.Infrastructure;
using PromptActors.Instances;
using PromptActors.Models;
using PromptActors.Serialization;

namespace PromptActors.Bench.Scenarios;

/// <summary>
/// Recovery: writes N instances with a few turns each to PostgreSQL, restarts the actor system on the same database and
/// touches every instance with GetInstanceAsync; reports the time to rehydrate them all and the events replayed per
/// second. Beside it, a hand-written replay: the same events read with Npgsql per persistence id, deserialized by the
/// same serializer and folded into the same InstanceState.
/// </summary>
public static class RecoveryScenario
{
    public static async Task<ScenarioResult> RunAsync(BenchOptions o)
    {
        var n = o.Size("instances", 10_000, 100);
        var turns = o.Size("turns", 3, 2);
        var parallelism = o.Size("parallelism", 256, 64);
        var result = new ScenarioResult("recovery");
        o.Log($"recovery: {n:#,0} instances × {turns} turns on PostgreSQL, then restart and touch each");

        await using var pg = await BenchPostgres.StartAsync(o);
        var (db, storage) = await pg.CreateStorageAsync();
        await using var storageLease = storage;
        var engineOptions = o.Engine(new EngineHostOptions
        {
            Storage = storage.AkkaConfig(), Prompts = storage.Prompts, Variables = storage.Variables, Runs = storage.Runs,
            Model = new LocalModelOptions { ReplyWords = 20 },
        });
        var ids = new string[n];
        string warm;
        double writeSeconds;
        var writeErrors = new TurnStats();
        await using (var writer = await EngineHost.StartAsync(engineOptions, "bench-recovery-1"))
        {
            await writer.WarmUpAsync();
            var config = new ExecutionConfig(TrackInRuns: false, ShowVariables: false);
            warm = (await writer.StartAsync(config)).InstanceId;
            var clock = Stopwatch.StartNew();
            using (OverheadScenario.Progress(o, writeErrors, (long)n * turns))
            {
                await Turns.ForEachAsync(n, parallelism, async (i, ct) =>
                {
                    ids[i] = (await writer.StartAsync(config, ct)).InstanceId;
                    for (var k = 0; k < turns; k++)
                        writeErrors.Add(await Turns.EngineAsync(writer.Engine, ids[i], EngineHost.UserInput(k), ct));
                });
            }
            writeSeconds = clock.Elapsed.TotalSeconds;
            o.Log($"wrote {n:#,0} instances × {turns} turns in {writeSeconds:0.0} s ({writeErrors.Ok / writeSeconds:0} turns/s), " +
                  $"errors {writeErrors.ErrorSummary()}; stopping the actor system");
        }
        var events = await pg.ScalarAsync(db, "SELECT count(*) AS bench_probe FROM journal WHERE persistence_id LIKE 'execution-instance-%'");
        var measured = events - await pg.ScalarAsync(db,
            $"SELECT count(*) AS bench_probe FROM journal WHERE persistence_id = 'execution-instance-{warm}'");
        var expectedEvents = (long)n * (1 + 2 * turns);

        await using var reader = await EngineHost.StartAsync(engineOptions, "bench-recovery-2");
        await reader.Engine.GetInstanceAsync(warm); // shard coordinator, region and plugin start are not part of the measurement
        await pg.ResetStatementsAsync();
        var pg0 = await pg.SampleAsync(db);
        var p0 = ProcessSample.Take();
        var wrong = 0;
        var failures = 0;
        var touched = new LatencyRecorder();
        var watch = Stopwatch.StartNew();
        await Turns.ForEachAsync(n, parallelism, async (i, ct) =>
        {
            var t0 = Stopwatch.GetTimestamp();
            try
            {
                var view = await reader.Engine.GetInstanceAsync(ids[i], ct);
                if (view.Conversation.Count != 2 * turns)
                    Interlocked.Increment(ref wrong);
                touched.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            }
            catch (PromptActors.PromptActorsException)
            {
                Interlocked.Increment(ref failures);
            }
        });
        var seconds = watch.Elapsed.TotalSeconds;
        var process = ProcessSample.Take().Since(p0);
        var pgDelta = (await pg.SampleAsync(db)).Since(pg0);
        var top = await pg.TopStatementsAsync(db, 8);
        o.Log($"engine rehydrated {n:#,0} instances in {seconds:0.00} s ({measured / seconds:0} events/s)");

        // Hand-written replay of the same journal.
        await pg.ResetStatementsAsync();
        var hpg0 = await pg.SampleAsync(db);
        var hp0 = ProcessSample.Take();
        var handWrong = 0;
        await using var data = NpgsqlDataSource.Create(pg.ConnectionString(db));
        watch.Restart();
        await Turns.ForEachAsync(n, parallelism, async (i, ct) =>
        {
            var state = new InstanceState();
            await using var c = await data.OpenConnectionAsync(ct);
            await using var cmd = new NpgsqlCommand(
                "SELECT message, manifest FROM journal WHERE persistence_id = $1 AND deleted = false ORDER BY sequence_number", c);
            cmd.Parameters.Add(new NpgsqlParameter { Value = "execution-instance-" + ids[i] });
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                state.Apply(PromptActorsSerializer.FromJournalForm((byte[])r.GetValue(0), r.GetString(1)));
            }
            if (state.Conversation.Count != 2 * turns)
                Interlocked.Increment(ref handWrong);
        });
        var handSeconds = watch.Elapsed.TotalSeconds;
        var handProcess = ProcessSample.Take().Since(hp0);
        var handPg = (await pg.SampleAsync(db)).Since(hpg0);
        o.Log($"hand-written replay of the same journal in {handSeconds:0.00} s ({measured / handSeconds:0} events/s)");

        var t = result.Table($"rehydrating {n:#,0} instances ({turns} turns each, {measured:#,0} events) after an actor-system restart, PostgreSQL {pg.Version}",
            "metric", "engine (GetInstanceAsync each)", "hand-written Npgsql replay", "Akka.Persistence.Sql published");
        t.Row("time", $"{seconds:0.00} s", $"{handSeconds:0.00} s", "");
        t.Row("instances/s", Fmt.N0(n / seconds), Fmt.N0(n / handSeconds), "");
        t.Row("events replayed/s", Fmt.N0(measured / seconds), Fmt.N0(measured / handSeconds), "~100,000 (desktop)");
        t.Row("engine vs published", Fmt.Pct(measured / seconds / 100_000), "", "");
        t.Row("GetInstanceAsync latency p50 / p99", $"{Fmt.Ms(touched.P50)} / {Fmt.Ms(touched.P99)}", "", "");
        t.Row("SQL statements per instance", Fmt.N1((double)pgDelta.Statements / n), Fmt.N1((double)handPg.Statements / n), "");
        t.Row("CPU ms per instance, this process", Fmt.N3(process.CpuMs / n), Fmt.N3(handProcess.CpuMs / n), "");
        t.Row("CPU ms per instance, PostgreSQL", Fmt.N3(pgDelta.CpuMs / n), Fmt.N3(handPg.CpuMs / n), "");
        t.Row("allocated per instance", Fmt.Bytes((double)process.AllocatedBytes / n), Fmt.Bytes((double)handProcess.AllocatedBytes / n), "");
        t.Row("wrong state / failures", $"{wrong} / {failures}", $"{handWrong} / 0", "");
        t.Row("write phase (setup)", $"{writeErrors.Ok / writeSeconds:0} turns/s, {expectedEvents / writeSeconds:0} events/s", "", "");
        var s = result.Table("SQL statements during the engine's rehydration (pg_stat_statements)", "calls/instance", "statement");
        foreach (var (calls, query) in top)
            s.Row(Fmt.N2((double)calls / n), query.Length > 160 ? query[..160] + " …" : query);
        result.Notes.Add($"Both read the same {measured:#,0} events with {parallelism} requests in flight; the engine's figure includes " +
                         "sharding, the persistent actor's recovery (snapshot query, event replay, highest-sequence query) and the view reply.");
        result.Figure("engine.events_per_s", measured / seconds);
        result.Figure("engine.instances_per_s", n / seconds);
        result.Figure("hand.events_per_s", measured / handSeconds);
        result.Figure("errors", wrong + failures);
        return result;
    }
}
