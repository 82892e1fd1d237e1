using PromptActors.Models;
using PromptActors.Prompts;
using PromptActors.Variables;

namespace PromptActors.Instances;

/// <summary>One conversation message as stored (user text before variable replacement, assistant text verbatim).</summary>
public sealed record ConversationMessage(MessageRole Role, string Content, string? TaskId, DateTimeOffset Timestamp);

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
    TaskError? LastError);

public sealed record RunTrackingView(
    string? RunId,
    string SourceType,
    string SourceId,
    string? RunName,
    long TotalTokens,
    decimal TotalCost,
    int TaskCount);

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

/// <summary>Reply to <see cref="SubscribeReplyStream"/> from an instance on the caller's own node: the events arrive in
/// <see cref="Events"/>. Never leaves the node; the caller completes the channel's writer when it stops reading.</summary>
public sealed record LocalReplyStream(string InstanceId, string? TaskId, System.Threading.Channels.Channel<ReplyEvent> Events)
    : Akka.Actor.INoSerializationVerificationNeeded;

/// <summary>Events of a reply stream.</summary>
public abstract record ReplyEvent(string TaskId) : IPromptActorsMessage;

/// <summary>Reply to <see cref="SubscribeReplyStream"/>: the stream of <see cref="ReplyEvent"/>s (chunks, then one terminal
/// event) of task <see cref="TaskId"/> (null: the next task to start). Materialize it within 30 seconds. <see cref="Node"/> is
/// the address of the node hosting the instance (the reader ends the stream if that node is downed).</summary>
public sealed record ReplyStreamOffer(string InstanceId, string? TaskId, Akka.Streams.ISourceRef<ReplyEvent> Stream, string? Node = null)
    : IPromptActorsMessage;

/// <summary>A piece of reply text; <see cref="Index"/> counts from 0 within the task.</summary>
public sealed record ReplyChunk(string TaskId, long Index, string Text) : ReplyEvent(TaskId);

/// <summary>The task completed; <see cref="Text"/> is the whole reply.</summary>
public sealed record ReplyCompleted(string TaskId, string Text, ExecutionStats Stats) : ReplyEvent(TaskId);

/// <summary>The task failed or was cancelled; <see cref="PartialText"/> is what streamed before.</summary>
public sealed record ReplyFailed(string TaskId, string Code, string Detail, string PartialText) : ReplyEvent(TaskId);
