using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace PromptActors.Telemetry;

/// <summary>
/// The engine's traces and metrics, through System.Diagnostics (OpenTelemetry listens when the host turns it on; nothing is
/// recorded otherwise). Names follow OpenTelemetry's GenAI semantic conventions (the released ones by default; the newer
/// experimental ones when <c>OTEL_SEMCONV_STABILITY_OPT_IN</c> contains <c>gen_ai_latest_experimental</c>). No prompt,
/// message, reply or variable value is recorded unless <see cref="CaptureContent"/> is on.
/// </summary>
public static class PromptActorsTelemetry
{
    public const string EngineSourceName = "PromptActors.Engine";
    public const string InstanceSourceName = "PromptActors.Instance";
    public const string ModelSourceName = "PromptActors.Model";
    public const string StoreSourceName = "PromptActors.Store";
    public const string ToolSourceName = "PromptActors.Tool";
    public const string MeterName = "PromptActors";

    /// <summary>The span attribute naming the cluster node (its Akka address) a command or a turn ran on.</summary>
    public const string NodeTag = "promptactors.node";

    /// <summary>Every activity source of the engine (the host adds its HTTP spans through ASP.NET Core's instrumentation).</summary>
    public static readonly IReadOnlyList<string> SourceNames = [EngineSourceName, InstanceSourceName, ModelSourceName, ToolSourceName, StoreSourceName];

    internal static readonly ActivitySource Engine = new(EngineSourceName);
    internal static readonly ActivitySource Instance = new(InstanceSourceName);
    internal static readonly ActivitySource Model = new(ModelSourceName);
    internal static readonly ActivitySource Store = new(StoreSourceName);
    internal static readonly ActivitySource Tool = new(ToolSourceName);
    internal static readonly Meter Meter = new(MeterName);

    internal static readonly Histogram<long> TokenUsage = Meter.CreateHistogram<long>("gen_ai.client.token.usage", "{token}",
        "Tokens used by a model call, by gen_ai.token.type (input or output).");
    internal static readonly Histogram<double> OperationDuration = Meter.CreateHistogram<double>("gen_ai.client.operation.duration", "s",
        "Duration of a model call, from the request to its last chunk.");
    internal static readonly Histogram<double> TimeToFirstChunk = Meter.CreateHistogram<double>(
        "gen_ai.client.operation.time_to_first_chunk", "s", "Time from a model call's request to its first chunk.");
    internal static readonly Counter<long> Turns = Meter.CreateCounter<long>("promptactors.turns", "{turn}",
        "Turns finished, by outcome (completed, failed, cancelled) and error code.");
    internal static readonly UpDownCounter<long> ActiveInstances = Meter.CreateUpDownCounter<long>("promptactors.instances.active",
        "{instance}", "Execution instances in memory on this node.");
    internal static readonly Counter<long> ReapedInstances = Meter.CreateCounter<long>("promptactors.instances.reaped", "{instance}",
        "Execution instances reaped (their journal ends with a tombstone).");
    internal static readonly Counter<double> Cost = Meter.CreateCounter<double>("promptactors.cost", "{currency}",
        "Cost of model calls, by model (in the model's configured currency).");
    internal static readonly Histogram<double> JournalWrite = Meter.CreateHistogram<double>("promptactors.journal.write.duration", "s",
        "From persisting a turn's event to the journal's acknowledgement.");
    internal static readonly Histogram<double> OutboxLag = Meter.CreateHistogram<double>("promptactors.outbox.lag", "s",
        "From a task's outcome to its final run row being confirmed by the run store.");

    /// <summary>Records message contents on model spans (off by default; <c>PromptActors:Telemetry:CaptureContent</c>).</summary>
    public static bool CaptureContent { get; set; }

    /// <summary>True when the newer experimental GenAI names are asked for.</summary>
    public static bool LatestExperimental { get; set; } =
        (Environment.GetEnvironmentVariable("OTEL_SEMCONV_STABILITY_OPT_IN") ?? "").Contains("gen_ai_latest_experimental",
            StringComparison.OrdinalIgnoreCase);

    /// <summary>The W3C trace context of the current activity, to carry in a command to whichever node runs it.</summary>
    internal static string? CurrentTraceParent() => Activity.Current is { IdFormat: ActivityIdFormat.W3C } a ? a.Id : null;

    /// <summary>Starts an activity under <paramref name="traceParent"/> without making it current on this thread (an actor's).</summary>
    internal static Activity? StartDetached(ActivitySource source, string name, ActivityKind kind, string? traceParent)
    {
        if (!source.HasListeners())
            return null;
        var previous = Activity.Current;
        ActivityContext.TryParse(traceParent, null, out var parent);
        var activity = source.StartActivity(name, kind, parent);
        Activity.Current = previous;
        return activity;
    }

    /// <summary>Starts an activity under <paramref name="parent"/> without making it current on this thread.</summary>
    internal static Activity? StartDetached(ActivitySource source, string name, ActivityKind kind, ActivityContext parent)
    {
        if (!source.HasListeners())
            return null;
        var previous = Activity.Current;
        var activity = source.StartActivity(name, kind, parent);
        Activity.Current = previous;
        return activity;
    }

    /// <summary>Ends an activity started detached (without touching the thread's current activity).</summary>
    internal static void StopDetached(Activity? activity)
    {
        if (activity is null)
            return;
        var previous = Activity.Current;
        activity.Stop();
        Activity.Current = previous;
    }
}
