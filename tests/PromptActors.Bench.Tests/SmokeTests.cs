using System.Diagnostics;
using PromptActors.Bench;
using PromptActors.Bench.Infrastructure;
using Xunit.Abstractions;

[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace PromptActors.Bench.Tests;

/// <summary>
/// Every load scenario runs in smoke mode (tiny sizes, a real engine, a real PostgreSQL where the scenario uses one) and
/// must produce its figures, so the benchmarks cannot rot. Smoke runs never write bench/RESULTS.md.
/// </summary>
public sealed class SmokeTests(ITestOutputHelper output)
{
    private async Task<ScenarioResult> SmokeAsync(string scenario)
    {
        var options = new BenchOptions { Smoke = true, Output = output.WriteLine };
        var results = Path.Combine(RepoRoot.Find() ?? ".", "bench", "RESULTS.md");
        var before = File.Exists(results) ? File.GetLastWriteTimeUtc(results) : DateTime.MinValue;
        var clock = Stopwatch.StartNew();
        var result = await BenchRunner.RunAsync(scenario, options);
        output.WriteLine($"{scenario} smoke finished in {clock.Elapsed.TotalSeconds:0.0} s");
        output.WriteLine(result.ToMarkdown());
        Assert.NotEmpty(result.Tables);
        Assert.All(result.Tables, t => Assert.NotEmpty(t.Rows));
        Assert.Equal(before, File.Exists(results) ? File.GetLastWriteTimeUtc(results) : DateTime.MinValue);
        return result;
    }

    private static void Positive(ScenarioResult result, string figure)
    {
        Assert.True(result.Figures.TryGetValue(figure, out var value), $"{result.Scenario} did not report {figure}");
        Assert.True(double.IsFinite(value) && value > 0, $"{result.Scenario}: {figure} = {value}");
    }

    private static void Zero(ScenarioResult result, string figure)
    {
        Assert.True(result.Figures.TryGetValue(figure, out var value), $"{result.Scenario} did not report {figure}");
        Assert.Equal(0, value);
    }

    [Fact]
    public void Every_scenario_has_a_smoke_test()
    {
        var tested = typeof(SmokeTests).GetMethods()
            .Where(m => m.GetCustomAttributes(typeof(FactAttribute), false).Length > 0)
            .Select(m => m.Name.ToLowerInvariant())
            .ToHashSet();
        Assert.All(BenchRunner.Scenarios.Keys, name => Assert.Contains(name, tested));
    }

    [Fact]
    public async Task Http()
    {
        var r = await SmokeAsync("http");
        Positive(r, "T1.host.turns_per_s");
        Positive(r, "T4.minimal.turns_per_s");
        Positive(r, "T4.ratio");
        Zero(r, "T1.host.errors");
        Zero(r, "T4.host.errors");
        Zero(r, "T4.minimal.errors");
    }

    [Fact]
    public async Task Tools()
    {
        var r = await SmokeAsync("tools");
        Positive(r, "T4.k1.engine.turns_per_s");
        Positive(r, "T4.k3.ratio");
        Positive(r, "T4.k1.step_wal_vs_plain");
        Zero(r, "T4.k0.engine.errors");
        Zero(r, "T4.k3.engine.errors");
    }

    [Fact]
    public async Task Overhead()
    {
        var r = await SmokeAsync("overhead");
        Positive(r, "engine.turns_per_s");
        Positive(r, "baseline.turns_per_s");
        Positive(r, "engine.ttft_p99_ms");
        Zero(r, "engine.errors");
    }

    [Fact]
    public async Task Durable()
    {
        var r = await SmokeAsync("durable");
        foreach (var t in new[] { 1, 4 })
        {
            Positive(r, $"T{t}.engine.turns_per_s");
            Positive(r, $"T{t}.baseline.turns_per_s");
            Positive(r, $"T{t}.engine.wal_per_turn");
            Positive(r, $"T{t}.engine.statements_per_turn");
            Zero(r, $"T{t}.engine.errors");
        }
        Positive(r, "long.engine.wal_turn1");
        Positive(r, "long.engine.wal_last");
    }

    [Fact]
    public async Task Density()
    {
        var r = await SmokeAsync("density");
        Positive(r, "idle_heap_per_instance");
        Positive(r, "starts_per_s");
        Positive(r, "turns_per_s");
        Zero(r, "errors");
    }

    [Fact]
    public async Task Fanout()
    {
        var r = await SmokeAsync("fanout");
        Positive(r, "S1.engine.chunks_per_s");
        Positive(r, "S10.engine.chunks_per_s");
        Positive(r, "S10.direct.chunks_per_s");
        Zero(r, "S1.errors");
        Zero(r, "S10.errors");
    }

    [Fact]
    public async Task Recovery()
    {
        var r = await SmokeAsync("recovery");
        Positive(r, "engine.events_per_s");
        Positive(r, "hand.events_per_s");
        Zero(r, "errors");
    }

    [Fact]
    public async Task Persistence()
    {
        var r = await SmokeAsync("persistence");
        Positive(r, "engine.events_per_s");
        Positive(r, "hand.events_per_s");
    }

    [Fact]
    public async Task Soak()
    {
        var r = await SmokeAsync("soak");
        Positive(r, "turns");
        Positive(r, "intervals");
        Zero(r, "errors");
    }
}
