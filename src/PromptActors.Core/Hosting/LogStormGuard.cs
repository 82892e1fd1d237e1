namespace PromptActors.Hosting;

/// <summary>
/// Keeps a storm of alike warnings and errors (the same source failing the same way, e.g. every request while the
/// database is down) from filling the disk: per key (category, level, message template and the exception's type) at most
/// <see cref="PerWindow"/> entries are written each <see cref="Window"/>, the rest are counted and reported in one line
/// when the next window opens; and an exception's stack trace is written once per <see cref="StackTraceEvery"/> per key,
/// later entries name the exception's type and message only. Thread-safe; time comes from the caller's clock.
/// </summary>
public sealed class LogStormGuard(TimeProvider time)
{
    public const int PerWindow = 5;
    public static readonly TimeSpan Window = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan StackTraceEvery = TimeSpan.FromMinutes(5);
    private const int MaxKeys = 1024;

    private readonly Lock _gate = new();
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    /// <summary>What to write for one entry.</summary>
    /// <param name="Write">false: suppressed (counted).</param>
    /// <param name="WithStackTrace">write the exception with its stack trace (else its type and message only).</param>
    /// <param name="SuppressedBefore">entries of this key suppressed in the windows since the last one written.</param>
    public readonly record struct Verdict(bool Write, bool WithStackTrace, int SuppressedBefore);

    /// <param name="template">the message's format before its values are filled in (kept in memory only, never written).</param>
    public Verdict Admit(string category, int level, Exception? cause, string? template = null)
    {
        var key = string.Concat(category, "|", level.ToString(System.Globalization.CultureInfo.InvariantCulture), "|",
            cause?.GetBaseException().GetType().FullName, "|", template);
        var now = time.GetUtcNow();
        lock (_gate)
        {
            if (!_entries.TryGetValue(key, out var entry))
            {
                if (_entries.Count >= MaxKeys)
                    _entries.Clear(); // many distinct keys is no storm; start counting afresh
                entry = new Entry { WindowStart = now, StackTraceAt = DateTimeOffset.MinValue };
                _entries[key] = entry;
            }
            var suppressedBefore = 0;
            if (now - entry.WindowStart >= Window)
            {
                suppressedBefore = entry.Suppressed;
                entry.WindowStart = now;
                entry.InWindow = 0;
                entry.Suppressed = 0;
            }
            if (entry.InWindow >= PerWindow)
            {
                entry.Suppressed++;
                return new Verdict(false, false, 0);
            }
            entry.InWindow++;
            var stack = cause is not null && now - entry.StackTraceAt >= StackTraceEvery;
            if (stack)
                entry.StackTraceAt = now;
            return new Verdict(true, stack, suppressedBefore);
        }
    }

    private sealed class Entry
    {
        public DateTimeOffset WindowStart;
        public int InWindow;
        public int Suppressed;
        public DateTimeOffset StackTraceAt;
    }
}
