using System.Collections.ObjectModel;
using System.Globalization;

namespace PromptActors.Variables;

/// <summary>The engine-computed variables (highest precedence layer) and their factory.</summary>
public static class ComputedVariables
{
    /// <summary>Current UTC date, <c>yyyy-MM-dd</c>.</summary>
    public const string CurrentDate = "current_date";

    /// <summary>Current UTC date and time, ISO 8601 <c>yyyy-MM-ddTHH:mm:ssZ</c>.</summary>
    public const string CurrentDateTime = "current_datetime";

    /// <summary>Current UTC time, <c>HH:mm</c>.</summary>
    public const string CurrentTime = "current_time";

    /// <summary>Id of the actor instance executing the prompt.</summary>
    public const string InstanceId = "instance_id";

    /// <summary>Id of the prompt being executed.</summary>
    public const string PromptId = "prompt_id";

    /// <summary>Id of the current run; empty when there is no run yet.</summary>
    public const string RunId = "run_id";

    /// <summary>Number of messages so far, as an invariant-culture integer.</summary>
    public const string MessageCount = "message_count";

    /// <summary>All computed variable names.</summary>
    public static IReadOnlyCollection<string> Names { get; } = new ReadOnlyCollection<string>(
        [CurrentDate, CurrentDateTime, CurrentTime, InstanceId, PromptId, RunId, MessageCount]);

    /// <summary>Builds the computed variables from the clock and execution context (UTC, invariant culture).</summary>
    public static IReadOnlyDictionary<string, string> Create(TimeProvider time, string instanceId, string promptId, string? runId, int messageCount)
    {
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(instanceId);
        ArgumentNullException.ThrowIfNull(promptId);

        var now = time.GetUtcNow().UtcDateTime;
        var inv = CultureInfo.InvariantCulture;

        return new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [CurrentDate] = now.ToString("yyyy'-'MM'-'dd", inv),
            [CurrentDateTime] = now.ToString("yyyy'-'MM'-'dd'T'HH':'mm':'ss'Z'", inv),
            [CurrentTime] = now.ToString("HH':'mm", inv),
            [InstanceId] = instanceId,
            [PromptId] = promptId,
            [RunId] = runId ?? string.Empty,
            [MessageCount] = messageCount.ToString(inv),
        }.AsReadOnly();
    }
}
