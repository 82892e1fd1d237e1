using PromptActors.Prompts;

namespace PromptActors.Runs;

/// <summary>Status of one task row (ai_tasks.status).</summary>
public enum RunTaskStatus
{
    Pending,
    Streaming,
    Completed,
    Failed,
    Cancelled,
}

/// <summary>
/// The run a task belongs to (one ai_runs row): who, from where, which prompt, and the instance writing it
/// (<see cref="InstanceId"/>; null in records written before it was kept).
/// </summary>
public sealed record RunInfo(
    string RunId,
    string UserId,
    string? OrgId,
    string? ProjectId,
    string SourceType,
    string SourceId,
    string? Name,
    string PromptId,
    int PromptVersion,
    PromptSettings Settings,
    IReadOnlyDictionary<string, string> VariableValues,
    DateTimeOffset CreatedAt,
    string? InstanceId = null) : IPromptActorsMessage;

/// <summary>
/// One ai_tasks row as the engine writes it. Writes are idempotent upserts keyed by <see cref="TaskId"/>, and a row in a
/// terminal status (completed, failed, cancelled) is never moved back to pending or streaming. <see cref="Sequence"/> numbers
/// the tasks of one instance 1, 2, 3… and orders the run's transcript (timestamps can tie).
/// </summary>
public sealed record RunTaskRecord(
    RunInfo Run,
    string TaskId,
    string Provider,
    string Model,
    string? UserMessage,
    RunTaskStatus Status,
    string? ResponseText,
    string? ErrorCode,
    string? ErrorDetail,
    long TokensInput,
    long TokensOutput,
    long TokensTotal,
    decimal Cost,
    double? TimeToFirstTokenMs,
    double? TotalTimeMs,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? CompletedAt,
    int Sequence = 0,
    string? KeyId = null,
    Prompts.PromptSettings? Settings = null,
    IReadOnlyList<ToolCallRecord>? ToolCalls = null,
    IReadOnlyList<ModelCallRecord>? ModelCalls = null,
    IReadOnlyList<Attachments.MessagePart>? Parts = null) : IPromptActorsMessage
{
    public bool IsTerminal => Status is RunTaskStatus.Completed or RunTaskStatus.Failed or RunTaskStatus.Cancelled;

    /// <summary>The ai_tasks row id of step <paramref name="step"/> of turn <paramref name="taskId"/> (step 0 is the turn's own row).</summary>
    public static string StepTaskId(string taskId, int step) => step == 0 ? taskId : $"{taskId}.{step}";
}

/// <summary>
/// One model call of a turn that made more than one (<see cref="RunTaskRecord.ModelCalls"/>, step 0 first), with its own
/// figures: the record's tokens, cost and times are the turn's, summed over these. Stored as one ai_tasks row each: step 0
/// is the turn's row (which also carries the user's message, the turn's outcome and its final reply), step n the row
/// <c>{taskId}.{n}</c>. <see cref="Text"/> is what the call streamed before asking for tools (null when nothing; the last
/// call's text is the record's <see cref="RunTaskRecord.ResponseText"/>).
/// </summary>
public sealed record ModelCallRecord(
    int Step,
    string Provider,
    string Model,
    RunTaskStatus Status,
    string? Text,
    long TokensInput,
    long TokensOutput,
    long TokensTotal,
    decimal Cost,
    double? TimeToFirstTokenMs,
    double? TotalTimeMs,
    DateTimeOffset StartedAt,
    DateTimeOffset CompletedAt);

/// <summary>
/// One ai_tool_calls row: a tool call of a task (written with the task's final row, keyed by task and call id, once).
/// <see cref="Status"/> is <c>completed</c>, <c>failed</c>, <c>rejected</c>, <c>outcome_unknown</c> (or, for a turn that
/// ended while a call waited or ran, <c>awaiting_approval</c> / <c>running</c>); <see cref="Decision"/> is <c>approved</c> or
/// <c>rejected</c> for a call a person decided (<see cref="DecidedBy"/>: the key's id; null for a trusted caller or a
/// timeout). <see cref="Step"/> is the model call (0, 1, …) that asked for it.
/// </summary>
public sealed record ToolCallRecord(
    string CallId,
    string Tool,
    string Arguments,
    string Status,
    string? Result,
    int Step,
    string Policy,
    string? Decision,
    string? DecidedBy,
    string? Reason,
    DateTimeOffset RequestedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? CompletedAt,
    double? DurationMs);

/// <summary>One message of a run's transcript (ai_runs.messages), derived from its completed task rows.</summary>
public sealed record RunMessage(string Role, string Content, string TaskId, DateTimeOffset Timestamp);

/// <summary>A run with totals derived from its task rows, so a replay can never double count.</summary>
public sealed record RunRecord(
    RunInfo Info,
    string Status,
    long TotalTokens,
    decimal TotalCost,
    int MessageCount,
    int TaskCount,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? LastMessageAt,
    IReadOnlyList<RunMessage> Messages,
    IReadOnlyList<RunTaskRecord> Tasks);
