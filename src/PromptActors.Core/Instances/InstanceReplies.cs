using PromptActors.Models;
using PromptActors.Prompts;
using PromptActors.Variables;

namespace PromptActors.Instances;

/// <summary>
/// One conversation message as stored (user text before variable replacement, assistant text verbatim). An assistant
/// message may carry the tool calls the model asked for (<see cref="ToolCalls"/>); a <see cref="MessageRole.Tool"/> message
/// is the result of call <see cref="ToolCallId"/> of tool <see cref="ToolName"/>. A user message may carry
/// <see cref="Parts"/> (images and files by reference, text resources).
/// </summary>
public sealed record ConversationMessage(MessageRole Role, string Content, string? TaskId, DateTimeOffset Timestamp,
    IReadOnlyList<ToolCall>? ToolCalls = null, string? ToolCallId = null, string? ToolName = null,
    IReadOnlyList<Attachments.MessagePart>? Parts = null);

/// <summary>A call the model asked for: its id (the provider's), the tool's name and the arguments (JSON text).</summary>
public sealed record ToolCall(string CallId, string Name, string Arguments);

/// <summary>A tool call of the running turn that waits for someone: a person's approval or the caller's result.</summary>
public sealed record PendingToolCall(string CallId, string Name, string Arguments, ToolCallStatus Status);

/// <summary>Figures of one finished task.</summary>
public sealed record ExecutionStats(
    double? TimeToFirstTokenMs,
    double TotalTimeMs,
    long InputTokens,
    long OutputTokens,
    long TotalTokens,
    decimal Cost,
    bool UsageEstimated = false)
{
    public static ExecutionStats From(TokenUsage usage, decimal cost, double? ttftMs, double totalMs) =>
        new(ttftMs, totalMs, usage.InputTokens, usage.OutputTokens, usage.TotalTokens, cost, usage.Estimated);
}

/// <summary>Why the last task did not complete.</summary>
public sealed record TaskError(string TaskId, string Code, string Detail);

/// <summary>Merged variables and the layer each came from (when <see cref="ExecutionConfig.ShowVariables"/> is on).</summary>
public sealed record VariablesView(
    IReadOnlyDictionary<string, string> Merged,
    IReadOnlyDictionary<string, VariableSource> Provenance,
    IReadOnlyDictionary<string, string> UserValues);

public sealed record ExecutionView(
    string? CurrentTaskId,
    string? LastTaskId,
    ExecutionStats? LastMessageStats,
    TaskError? LastError,
    System.Text.Json.JsonElement? LastOutput = null,
    IReadOnlyList<PendingToolCall>? PendingToolCalls = null);

/// <summary>
/// The instance's run. <see cref="Synced"/>: the run store holds every task row as this view shows it (false while a
/// task runs, and for the moment after a reply until the outbox has written its final row; always true untracked).
/// </summary>
public sealed record RunTrackingView(
    string? RunId,
    string SourceType,
    string SourceId,
    string? RunName,
    long TotalTokens,
    decimal TotalCost,
    int TaskCount,
    bool Synced = true);

/// <summary>What an instance looks like to its callers; <see cref="Node"/> is the address of the node hosting it.</summary>
public sealed record InstanceView(
    string InstanceId,
    string PromptId,
    int PromptVersion,
    InstanceStatus Status,
    InstanceScope Scope,
    ExecutionConfig ExecutionConfig,
    bool Retain,
    IReadOnlyList<ConversationMessage> Conversation,
    VariablesView? Variables,
    ExecutionView Execution,
    RunTrackingView RunTracking,
    string? StreamingText,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    string? Node = null) : IPromptActorsMessage;

/// <summary>Reply to <see cref="ExecuteMessage"/>: the task was persisted and the model call started.</summary>
public sealed record MessageAccepted(string InstanceId, string TaskId, string? RunId) : IPromptActorsMessage;

/// <summary>Reply to <see cref="CancelExecution"/>.</summary>
public sealed record CancelResult(string InstanceId, string? TaskId, bool Cancelled) : IPromptActorsMessage;

/// <summary>Reply to <see cref="CleanupInstance"/>.</summary>
public sealed record InstanceCleanedUp(string InstanceId) : IPromptActorsMessage;

/// <summary>To the task sweeper's <see cref="CheckTask"/>: this instance is not running the task and has no outcome of it to write.</summary>
public sealed record TaskUnknown(string InstanceId, string TaskId) : IPromptActorsMessage;

/// <summary>Reply to <see cref="AwaitRunRows"/>: whether every finished task's final row is in the run store.</summary>
public sealed record RunRowsWritten(string InstanceId, bool Synced) : IPromptActorsMessage;

/// <summary>The decision on tool call <see cref="CallId"/> of task <see cref="TaskId"/> is journaled.</summary>
public sealed record ToolCallDecision(string InstanceId, string TaskId, string CallId, bool Approved) : IPromptActorsMessage;

/// <summary>The posted client tool results of task <see cref="TaskId"/> are journaled.</summary>
public sealed record ToolResultsAccepted(string InstanceId, string TaskId, IReadOnlyList<string> CallIds) : IPromptActorsMessage;
