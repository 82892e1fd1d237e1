using PromptActors.Models;
using PromptActors.Tools;

namespace PromptActors.Instances;

/// <summary>
/// Model call <see cref="Iteration"/> of task <see cref="TaskId"/> ended asking for tools: its text (often empty), its usage
/// and timing, and the calls. A call with status <see cref="ToolCallStatus.Running"/> is journaled as started by this event
/// and invoked after it is written; <see cref="ToolCallStatus.AwaitingApproval"/> waits for a <see cref="ToolCallDecided"/>;
/// <see cref="ToolCallStatus.Failed"/> is not invoked at all (an unknown tool, arguments that are not valid JSON or do not fit
/// the tool's schema) and <see cref="RequestedToolCall.Result"/> is the error the model is told. <see cref="ChunkCount"/> is
/// how many chunks the call streamed (the stream's event indices go on after them, also after a restart).
/// </summary>
public sealed record ToolCallsRequested(
    string TaskId,
    int Iteration,
    string Text,
    IReadOnlyList<RequestedToolCall> Calls,
    TokenUsage Usage,
    decimal Cost,
    double? TimeToFirstTokenMs,
    double TotalTimeMs,
    DateTimeOffset At,
    int ChunkCount = 0) : IInstanceEvent;

/// <summary>One call of a <see cref="ToolCallsRequested"/>.</summary>
public sealed record RequestedToolCall(string CallId, string Name, string Arguments, ToolCallStatus Status, ToolPolicy Policy,
    string? Result = null);

/// <summary>
/// A started call ended: <see cref="ToolCallStatus.Completed"/> with the tool's result, <see cref="ToolCallStatus.Failed"/>
/// (it threw or timed out; <see cref="Result"/> is the error the model is told) or <see cref="ToolCallStatus.OutcomeUnknown"/>
/// (an at-most-once call found started on recovery).
/// </summary>
public sealed record ToolCallFinished(string TaskId, string CallId, ToolCallStatus Status, string Result, double DurationMs,
    DateTimeOffset At) : IInstanceEvent;

/// <summary>
/// A person decided call <see cref="CallId"/>, exactly once: approved (the event records the call as started; it is invoked
/// after the event is written) or rejected (the rejection, with <see cref="Reason"/>, is the call's result for the model).
/// <see cref="DecidedBy"/> is the deciding API key's id, or null for a trusted caller or an approval timeout.
/// </summary>
public sealed record ToolCallDecided(string TaskId, string CallId, bool Approved, string? Reason, string? DecidedBy,
    DateTimeOffset At) : IInstanceEvent;
