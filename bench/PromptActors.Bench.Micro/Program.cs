using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using PromptActors.Bench.Micro;

// dotnet run -c Release --project bench/PromptActors.Bench.Micro -- [--filter *Render*] [--no-results]
// ShortRun (3 warm-ups, 3 iterations, 1 launch) in-process, with the memory diagnoser: the whole suite takes a few minutes.
var noResults = args.Contains("--no-results");
var bdnArgs = args.Where(a => a != "--no-results").ToArray();
var config = ManualConfig.Create(DefaultConfig.Instance)
    .AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance).WithId("ShortRun-InProcess"))
    .AddDiagnoser(MemoryDiagnoser.Default)
    .AddColumn(new OutputSizeColumn())
    .AddExporter(MarkdownExporter.GitHub)
    .WithOptions(ConfigOptions.DisableLogFile);
var summaries = BenchmarkSwitcher.FromAssembly(typeof(RenderBenchmarks).Assembly).Run(bdnArgs.Length == 0 ? ["--filter", "*"] : bdnArgs, config).ToArray();

if (!noResults && summaries.Length > 0)
{
    var root = FindRoot();
    if (root is not null)
    {
        var sb = new StringBuilder();
        sb.AppendLine().Append("### micro — ").AppendLine(DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'")).AppendLine()
            .Append("- command: `dotnet run -c Release --project bench/PromptActors.Bench.Micro -- ").Append(string.Join(' ', args)).AppendLine("`")
            .Append("- machine: ").Append(Environment.ProcessorCount).Append(" cores, ").Append(RuntimeInformation.OSDescription)
            .Append(", ").Append(RuntimeInformation.FrameworkDescription).Append(", commit ").AppendLine(Commit(root))
            .AppendLine("- job: ShortRun (3 warm-ups, 3 iterations, 1 launch), in-process emit toolchain, MemoryDiagnoser; " +
                        "'Output' = bytes the call must produce (rendered string, 0 when the input is returned unchanged; serialized payload for the serializer)")
            .AppendLine();
        foreach (var summary in summaries)
        {
            using var writer = new StringWriter();
            var logger = new BenchmarkDotNet.Loggers.TextLogger(writer);
            MarkdownExporter.GitHub.ExportToLog(summary, logger);
            var text = writer.ToString();
            // Keep the table only (the environment block is summarized above).
            var start = text.IndexOf("| Method", StringComparison.Ordinal);
            sb.AppendLine(start >= 0 ? text[start..].Trim() : text.Trim()).AppendLine();
        }
        File.AppendAllText(Path.Combine(root, "bench", "RESULTS.md"), sb.ToString());
        Console.WriteLine("appended to bench/RESULTS.md");
    }
}
return 0;

static string? FindRoot()
{
    for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
    {
        if (File.Exists(Path.Combine(dir.FullName, "PromptActors.sln")))
            return dir.FullName;
    }
    return null;
}

static string Commit(string root)
{
    try
    {
        var info = new ProcessStartInfo("git", "rev-parse --short HEAD") { WorkingDirectory = root, RedirectStandardOutput = true };
        using var p = Process.Start(info)!;
        var hash = p.StandardOutput.ReadToEnd().Trim();
        p.WaitForExit();
        var dirty = new ProcessStartInfo("git", "status --porcelain --untracked-files=no") { WorkingDirectory = root, RedirectStandardOutput = true };
        using var d = Process.Start(dirty)!;
        var changes = d.StandardOutput.ReadToEnd().Trim();
        d.WaitForExit();
        return changes.Length == 0 ? hash : hash + " + uncommitted changes";
    }
    catch (Exception)
    {
        return "unknown";
    }
}

/// <summary>Bytes of the string a benchmark must return, so allocations beyond the output can be read off the table.</summary>
internal sealed class OutputSizeColumn : IColumn
{
    public string Id => nameof(OutputSizeColumn);
    public string ColumnName => "Output";
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Size;
    public string Legend => "Bytes the call has to produce: the rendered string (0: input returned unchanged) or the serialized payload";
    public bool IsAvailable(Summary summary) => true;
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var key = benchmarkCase.Descriptor.Type.Name + "." + benchmarkCase.Descriptor.WorkloadMethod.Name;
        return OutputSizes.Of(key, benchmarkCase.Parameters) is { } bytes ? $"{bytes:#,0} B" : "-";
    }
}
