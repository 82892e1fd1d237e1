using System.Diagnostics;
using PromptActors.Bench;
using PromptActors.Bench.Infrastructure;

// dotnet run -c Release --project bench/PromptActors.Bench -- <scenario> [--smoke] [--default-reaper] [--<size> <value> …]
if (args.Length == 0 || args[0] is "-h" or "--help")
{
    Console.WriteLine("usage: dotnet run -c Release --project bench/PromptActors.Bench -- <scenario> [--smoke] [--no-results] [--<size> N]");
    Console.WriteLine();
    foreach (var (name, (description, _)) in BenchRunner.Scenarios)
        Console.WriteLine($"  {name,-12} {description}");
    Console.WriteLine();
    Console.WriteLine("  --smoke           tiny sizes, finishes in seconds; never writes bench/RESULTS.md");
    Console.WriteLine("  --no-results      do not append to bench/RESULTS.md");
    Console.WriteLine("  --default-reaper  keep the engine's reaper defaults (50 completed instances per node)");
    Console.WriteLine("  --two-calls       engine turns send, then subscribe (two calls) instead of ExecuteMessageStreamAsync");
    Console.WriteLine("  --<size> N        override a size (e.g. --instances 500 --messages 5); see each scenario");
    Console.WriteLine("  --akka \"HOCON\"    extra Akka configuration for the engine (to measure a configuration change)");
    Console.WriteLine("  --connection \"…\" extra connection-string keywords for the engine's database");
    return args.Length == 0 ? 2 : 0;
}

var scenario = args[0];
if (scenario == "schema")
{
    await PromptActors.Bench.Scenarios.SchemaDump.RunAsync(new BenchOptions());
    return 0;
}
var smoke = false;
var noResults = false;
var defaultReaper = false;
var overrides = new Dictionary<string, string>(StringComparer.Ordinal);
for (var i = 1; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--smoke": smoke = true; break;
        case "--no-results": noResults = true; break;
        case "--default-reaper": defaultReaper = true; break;
        case "--two-calls": Turns.TwoCalls = true; break;
        case var a when a.StartsWith("--", StringComparison.Ordinal) && i + 1 < args.Length:
            overrides[a[2..]] = args[++i];
            break;
        default:
            Console.Error.WriteLine($"unknown argument '{args[i]}'");
            return 2;
    }
}
if (!BenchRunner.Scenarios.ContainsKey(scenario))
{
    Console.Error.WriteLine($"unknown scenario '{scenario}' (known: {string.Join(", ", BenchRunner.Scenarios.Keys)})");
    return 2;
}

var machine = MachineInfo.Describe();
var options = new BenchOptions { Smoke = smoke, DefaultReaper = defaultReaper, Overrides = overrides };
options.Log($"{scenario}{(smoke ? " (smoke)" : "")} on {machine}");
var clock = Stopwatch.StartNew();
var result = await BenchRunner.RunAsync(scenario, options);
clock.Stop();

Console.WriteLine();
Console.WriteLine($"## {scenario}{(smoke ? " (smoke)" : "")}");
Console.WriteLine();
Console.WriteLine(result.ToMarkdown());
if (!smoke && !noResults)
{
    var command = "dotnet run -c Release --project bench/PromptActors.Bench -- " + string.Join(' ', args);
    var path = ResultsFile.Append(result, command, clock.Elapsed, machine);
    Console.WriteLine(path is null ? "(repository root not found: RESULTS.md not written)" : $"appended to {path}");
}
return 0;
