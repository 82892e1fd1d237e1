using System.Diagnostics;
using System.Globalization;

namespace PromptActors.Bench.Infrastructure;

/// <summary>How a scenario runs: smoke (tiny, seconds) or full, where progress goes, and size overrides (--name value).</summary>
public sealed class BenchOptions
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    public bool Smoke { get; init; }

    /// <summary>Keep the engine's reaper defaults (see <see cref="EngineHostOptions.DefaultReaper"/>).</summary>
    public bool DefaultReaper { get; init; }

    public Action<string> Output { get; init; } = Console.WriteLine;

    public IReadOnlyDictionary<string, string> Overrides { get; init; } = new Dictionary<string, string>();

    /// <summary>Extra HOCON for the engine's actor system (<c>--akka "…"</c>), to measure a configuration change.</summary>
    public string? ExtraHocon => Overrides.GetValueOrDefault("akka");

    /// <summary>Extra connection-string keywords for the engine's database (<c>--connection "No Reset On Close=true"</c>).</summary>
    public string? ExtraConnection => Overrides.GetValueOrDefault("connection");

    /// <summary>The engine's options with the command line's extras applied.</summary>
    /// <summary>The run's engine options: extra HOCON, the default reaper, and <c>--snapshot-every N</c> when given.</summary>
    public EngineHostOptions Engine(EngineHostOptions options)
    {
        var configure = options.Configure;
        if (Overrides.TryGetValue("snapshot-every", out var every))
        {
            var n = int.Parse(every, CultureInfo.InvariantCulture);
            configure = o =>
            {
                options.Configure?.Invoke(o);
                o.Instances.SnapshotEvery = n;
            };
        }
        return options with { ExtraHocon = ExtraHocon, DefaultReaper = DefaultReaper, Configure = configure };
    }

    public void Log(string message) => Output($"[{_clock.Elapsed.TotalSeconds,7:0.0}s] {message}");

    /// <summary>A size: the override when given, else the smoke or the full value.</summary>
    public int Size(string name, int full, int smoke) =>
        Overrides.TryGetValue(name, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : Smoke ? smoke : full;

    public double Value(string name, double full, double smoke) =>
        Overrides.TryGetValue(name, out var v) ? double.Parse(v, CultureInfo.InvariantCulture) : Smoke ? smoke : full;
}
