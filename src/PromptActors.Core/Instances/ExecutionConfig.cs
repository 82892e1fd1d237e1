namespace PromptActors.Instances;

/// <summary>The five flags of the original design.</summary>
/// <param name="AutoRun">Execute the prompt as soon as the instance starts.</param>
/// <param name="AllowChat">Allow follow-up messages after the first completed reply.</param>
/// <param name="ShowVariables">Expose merged variable values and their provenance in the view.</param>
/// <param name="ApplyVariables">Replace <c>{{placeholders}}</c>; when off, text is sent untouched.</param>
/// <param name="TrackInRuns">Create a run on the first message and record every task in ai_runs / ai_tasks.</param>
public sealed record ExecutionConfig(
    bool AutoRun = false,
    bool AllowChat = true,
    bool ShowVariables = true,
    bool ApplyVariables = true,
    bool TrackInRuns = true)
{
    public static readonly ExecutionConfig Default = new();
}

/// <summary>Where a run comes from (ai_runs.source_type / source_id).</summary>
public sealed record RunSource(string Type, string Id);

/// <summary>Lifecycle of an instance (DESIGN §2).</summary>
public enum InstanceStatus
{
    Idle,
    Initializing,
    Ready,
    Executing,
    Streaming,
    Completed,
    Error,
    Expired,

    /// <summary>The turn waits for a person to approve or reject a tool call (nothing runs meanwhile).</summary>
    [System.Text.Json.Serialization.JsonStringEnumMemberName("awaiting_approval")]
    AwaitingApproval,

    /// <summary>The turn waits for the caller to post the results of client tool calls.</summary>
    [System.Text.Json.Serialization.JsonStringEnumMemberName("awaiting_tool_results")]
    AwaitingToolResults,
}

/// <summary>How a task ended.</summary>
public enum TaskOutcome
{
    Completed,
    Failed,
    Cancelled,
}
