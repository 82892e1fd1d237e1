using System.Diagnostics;
using System.Diagnostics.Metrics;
using PromptActors.Telemetry;

namespace PromptActors.Persistence.Runs;

/// <summary>
/// The run store's own figures, on the engine's meter (<see cref="PromptActorsTelemetry.MeterName"/>): recorded only when
/// a listener is there (the OpenTelemetry SDK when the host turns metrics on).
/// </summary>
internal static class RunStoreMetrics
{
    private static readonly Meter Meter = new(PromptActorsTelemetry.MeterName);

    /// <summary>How long a run-row write waited in the node's write queue before the batch carrying it was sent.</summary>
    public static readonly Histogram<double> QueueLag = Meter.CreateHistogram<double>("promptactors.run_store.queue.lag", "s",
        "From a run-row write being queued to the batch that carries it being sent to the database (PostgreSQL; SQLite writes directly).");

    /// <summary>How many writes one batch carried.</summary>
    public static readonly Histogram<long> BatchSize = Meter.CreateHistogram<long>("promptactors.run_store.batch.size", "{write}",
        "Run-row writes sent to the database in one round trip.");

    /// <summary>A batch was taken from the queue: the <see cref="Stopwatch"/> ticks each of its writes was queued at.</summary>
    public static void BatchTaken(IReadOnlyList<long> queuedAt)
    {
        if (!QueueLag.Enabled && !BatchSize.Enabled)
            return;
        var now = Stopwatch.GetTimestamp();
        foreach (var at in queuedAt)
            QueueLag.Record(Stopwatch.GetElapsedTime(at, now).TotalSeconds);
        BatchSize.Record(queuedAt.Count);
    }
}
