using System.Globalization;
using Microsoft.Diagnostics.Tracing.Etlx;

namespace PromptActors.Profile;

public sealed record ReportOptions(string Path, double FromMs, double ToMs, int Top)
{
    public static ReportOptions Parse(string[] args)
    {
        double from = 0, to = double.MaxValue;
        var top = 25;
        for (var i = 1; i + 1 < args.Length; i += 2)
        {
            var value = double.Parse(args[i + 1], CultureInfo.InvariantCulture);
            switch (args[i])
            {
                case "--from-ms": from = value; break;
                case "--to-ms": to = value; break;
                case "--top": top = (int)value; break;
                default: throw new ArgumentException($"unknown option {args[i]}");
            }
        }
        return new ReportOptions(args[0], from, to, top);
    }
}

/// <summary>Counts samples and sampled allocations by method (exclusive: the leaf; inclusive: anywhere on the stack).</summary>
public sealed class ProfileReport(ReportOptions options)
{
    private readonly Dictionary<string, long> _exclusive = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _inclusive = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _waitingAt = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _allocTypes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _allocSites = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _allocInclusive = new(StringComparer.Ordinal);
    private long _running;
    private long _waiting;
    private long _allocated;

    public void Sample(TraceCallStack stack, bool running)
    {
        var frames = Frames(stack);
        if (frames.Count == 0)
            return;
        if (!running)
        {
            _waiting++;
            Add(_waitingAt, FirstOwnFrame(frames) ?? frames[0], 1);
            return;
        }
        _running++;
        Add(_exclusive, frames[0], 1);
        foreach (var method in frames.Distinct(StringComparer.Ordinal))
            Add(_inclusive, method, 1);
    }

    public void Allocation(string? type, long bytes, TraceCallStack? stack)
    {
        _allocated += bytes;
        Add(_allocTypes, type ?? "?", bytes);
        if (stack is null)
            return;
        var frames = Frames(stack);
        Add(_allocSites, FirstOwnFrame(frames) ?? (frames.Count > 0 ? frames[0] : "?"), bytes);
        foreach (var method in frames.Distinct(StringComparer.Ordinal))
            Add(_allocInclusive, method, bytes);
    }

    public void Print(TextWriter o)
    {
        var window = options.ToMs == double.MaxValue ? "whole trace" : $"{options.FromMs:0}–{options.ToMs:0} ms";
        o.WriteLine($"# profile of {System.IO.Path.GetFileName(options.Path)} ({window})");
        o.WriteLine();
        o.WriteLine($"thread samples: {_running + _waiting:#,0}: running managed code {_running:#,0} " +
                    $"({Pct(_running, _running + _waiting)}), elsewhere (waiting or native) {_waiting:#,0}");
        Table(o, "running samples by method, exclusive (the leaf frame)", _exclusive, _running, "samples");
        Table(o, "running samples by method, inclusive (anywhere on the stack)", _inclusive, _running, "samples");
        Table(o, "samples outside managed code, by the innermost frame outside the runtime and libraries", _waitingAt, _waiting, "samples");
        o.WriteLine();
        o.WriteLine($"sampled allocations: {_allocated / 1024.0 / 1024.0:#,0.0} MiB (one event per ~100 KiB allocated)");
        Table(o, "allocations by type", _allocTypes, _allocated, "bytes");
        Table(o, "allocations by site (innermost frame outside System.* and Microsoft.*)", _allocSites, _allocated, "bytes");
        Table(o, "allocations by method, inclusive", _allocInclusive, _allocated, "bytes");
    }

    private void Table(TextWriter o, string title, Dictionary<string, long> counts, long total, string unit)
    {
        o.WriteLine();
        o.WriteLine($"**{title}**");
        o.WriteLine();
        o.WriteLine($"| {unit} | share | method |");
        o.WriteLine("|---:|---:|---|");
        foreach (var (name, count) in counts.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).Take(options.Top))
            o.WriteLine($"| {count:#,0} | {Pct(count, total)} | {Escape(name)} |");
    }

    private static List<string> Frames(TraceCallStack stack)
    {
        var frames = new List<string>(32);
        for (var frame = stack; frame is not null; frame = frame.Caller)
        {
            var address = frame.CodeAddress;
            var method = address.FullMethodName;
            frames.Add(string.IsNullOrEmpty(method) ? $"{address.ModuleName}!?" : method);
        }
        return frames;
    }

    /// <summary>The innermost frame of our own code or a library other than the runtime's (Akka, Npgsql, linq2db, …).</summary>
    private static string? FirstOwnFrame(List<string> frames) =>
        frames.FirstOrDefault(f => !f.StartsWith("System.", StringComparison.Ordinal) && !f.StartsWith("Microsoft.", StringComparison.Ordinal)
                                   && !f.Contains("!?", StringComparison.Ordinal) && !f.StartsWith("Interop", StringComparison.Ordinal));

    private static void Add(Dictionary<string, long> counts, string key, long by) =>
        counts[key] = counts.GetValueOrDefault(key) + by;

    private static string Pct(long part, long total) =>
        total == 0 ? "—" : (100.0 * part / total).ToString("0.0", CultureInfo.InvariantCulture) + " %";

    private static string Escape(string name) => name.Replace("|", "\\|", StringComparison.Ordinal);
}
