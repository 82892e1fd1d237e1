using System.Globalization;
using Microsoft.Diagnostics.Tracing;
using Microsoft.Diagnostics.Tracing.Etlx;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;
using PromptActors.Profile;

// Reads a .nettrace written by dotnet-trace and prints where the process's samples and allocations went:
//   dotnet-trace collect --profile dotnet-sampled-thread-time,gc-verbose -o t.nettrace -- dotnet PromptActors.Bench.dll …
//   dotnet run -c Release --project bench/PromptActors.Profile -- t.nettrace [--from-ms N] [--to-ms N] [--top N]
// A sample is "running" when the thread was in managed code, "waiting" otherwise (the sample profiler's own mark), so the
// running samples are the process's managed CPU; waits (thread-pool parking, sockets, locks) are counted apart.
if (args.Length == 0 || args[0].StartsWith('-'))
{
    Console.Error.WriteLine("usage: PromptActors.Profile <trace.nettrace> [--from-ms N] [--to-ms N] [--top N]");
    return 2;
}
var options = ReportOptions.Parse(args);
if (!File.Exists(options.Path))
{
    Console.Error.WriteLine($"no such trace: {options.Path}");
    return 2;
}

var etlx = Path.ChangeExtension(options.Path, ".etlx");
TraceLog.CreateFromEventPipeDataFile(options.Path, etlx);
using var log = new TraceLog(etlx);
var report = new ProfileReport(options);
foreach (var e in log.Events)
{
    var at = e.TimeStampRelativeMSec;
    if (at < options.FromMs || at > options.ToMs)
        continue;
    if (e.ProviderName == "Microsoft-DotNETCore-SampleProfiler" && e.CallStack() is { } stack)
        report.Sample(stack, IsRunning(e));
    else if (e is GCAllocationTickTraceData tick)
        report.Allocation(tick.TypeName, tick.AllocationAmount64, tick.CallStack());
}
report.Print(Console.Out);
File.Delete(etlx);
return 0;

// The sample profiler marks each sample: 2 = the thread was running managed code, 1 = it was outside it (waiting, or in
// native code). Traces without the mark count every sample as running.
static bool IsRunning(TraceEvent e)
{
    try
    {
        return e.PayloadByName("Type") is not { } type || Convert.ToInt32(type, CultureInfo.InvariantCulture) == 2;
    }
    catch (Exception ex) when (ex is InvalidCastException or FormatException or ArgumentException)
    {
        return true;
    }
}
