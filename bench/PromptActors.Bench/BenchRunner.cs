using PromptActors.Bench.Infrastructure;
using PromptActors.Bench.Scenarios;

namespace PromptActors.Bench;

/// <summary>The load scenarios by name (the CLI and the smoke tests both go through here).</summary>
public static class BenchRunner
{
    public static readonly IReadOnlyDictionary<string, (string Description, Func<BenchOptions, Task<ScenarioResult>> Run)> Scenarios =
        new Dictionary<string, (string, Func<BenchOptions, Task<ScenarioResult>>)>(StringComparer.Ordinal)
        {
            ["overhead"] = ("engine vs a direct IChatClient loop: throughput, added TTFT/total latency (in-memory journal)", OverheadScenario.RunAsync),
            ["durable"] = ("conversations on PostgreSQL (fsync on) vs a hand-written Npgsql loop: turns/s, latency, CPU, SQL, WAL", DurableScenario.RunAsync),
            ["http"] = ("T HTTP clients streaming replies over SSE from the real host vs a minimal ASP.NET Core endpoint with the hand-written loop's writes", HttpScenario.RunAsync),
            ["tools"] = ("tool turns (0, 1, 3 calls) on PostgreSQL (fsync on) vs a hand-written loop with the same writes: turns/s, CPU and WAL per tool step", ToolsScenario.RunAsync),
            ["density"] = ("memory per idle instance and start rate, then after one message each", DensityScenario.RunAsync),
            ["fanout"] = ("chunks/s delivered to 1 and 10 StreamAsync subscribers per task", FanoutScenario.RunAsync),
            ["recovery"] = ("rehydrating instances from PostgreSQL after a restart: time and events/s replayed", RecoveryScenario.RunAsync),
            ["persistence"] = ("events persisted/s on PostgreSQL (fsync on): engine, raw Akka.Persistence.Sql, hand-written Npgsql", PersistenceScenario.RunAsync),
            ["soak"] = ("500 instances chatting for 10 minutes: throughput, errors and memory per minute", SoakScenario.RunAsync),
        };

    public static Task<ScenarioResult> RunAsync(string scenario, BenchOptions options) =>
        Scenarios.TryGetValue(scenario, out var s)
            ? s.Run(options)
            : throw new ArgumentException($"unknown scenario '{scenario}' (known: {string.Join(", ", Scenarios.Keys)})");
}
