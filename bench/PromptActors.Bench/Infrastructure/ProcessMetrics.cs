using System.Diagnostics;

namespace PromptActors.Bench.Infrastructure;

/// <summary>CPU time, allocations and GC counts of this process, as a snapshot to subtract.</summary>
public readonly record struct ProcessSample(TimeSpan Cpu, long Allocated, int Gen0, int Gen1, int Gen2, long Timestamp)
{
    public static ProcessSample Take()
    {
        using var p = Process.GetCurrentProcess();
        return new ProcessSample(p.TotalProcessorTime, GC.GetTotalAllocatedBytes(precise: false),
            GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2), Stopwatch.GetTimestamp());
    }

    public ProcessDelta Since(ProcessSample start) => new(
        (Cpu - start.Cpu).TotalMilliseconds,
        Allocated - start.Allocated,
        Gen0 - start.Gen0, Gen1 - start.Gen1, Gen2 - start.Gen2,
        Stopwatch.GetElapsedTime(start.Timestamp, Timestamp).TotalSeconds);
}

public readonly record struct ProcessDelta(double CpuMs, long AllocatedBytes, int Gen0, int Gen1, int Gen2, double Seconds);

/// <summary>Memory of this process: GC heap after a full blocking compacting collection, and resident set size.</summary>
public static class Memory
{
    public static (long Heap, long Rss) Measure()
    {
        for (var i = 0; i < 3; i++)
        {
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
        }
        return (GC.GetTotalMemory(forceFullCollection: false), Rss());
    }

    /// <summary>Heap without forcing a collection (for progress lines).</summary>
    public static long HeapNow() => GC.GetTotalMemory(forceFullCollection: false);

    public static long Rss()
    {
        try
        {
            var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            if (line is not null && long.TryParse(line[6..].Trim().Split(' ')[0], out var kb))
                return kb * 1024;
        }
        catch (IOException)
        {
        }
        using var p = Process.GetCurrentProcess();
        return p.WorkingSet64;
    }
}
