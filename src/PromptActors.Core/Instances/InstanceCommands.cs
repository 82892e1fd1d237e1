using PromptActors.Variables;
using PromptActors.Streaming;

namespace PromptActors.Instances;

/// <summary>Every message addressed to one execution instance; routed by Cluster Sharding on <see cref="InstanceId"/>.</summary>
public interface IInstanceCommand : IPromptActorsMessage
{
    string InstanceId { get; }

    /// <summary>
    /// The scope the caller acts in (an API key's user, org and project), or null for a trusted caller (the engine's own
    /// actors, an embedder that checks access itself). An instance whose scope is not exactly this one answers as if it did
    /// not exist (<c>instance_not_found</c>), so another tenant's id reveals nothing.
    /// </summary>
    InstanceScope? Caller { get; }
}

/// <summary>Creates the instance (<see cref="Model"/> overrides the prompt's model for this instance). Replies <see cref="InstanceView"/> or <see cref="Rejected"/>.</summary>
public sealed record StartInstance(
    string InstanceId,
    string PromptId,
    InstanceScope Scope,
    IReadOnlyDictionary<string, string>? Variables = null,
    ExecutionConfig? ExecutionConfig = null,
    RunSource? Source = null,
    string? RunName = null,
    bool Retain = false,
    int? PromptVersion = null,
    string? Model = null,
    InstanceScope? Caller = null,
    string? KeyId = null,
    string? TraceParent = null,
    IReadOnlyList<Prompts.ClientTool>? ClientTools = null) : IInstanceCommand;

/// <summary>
/// Sends the next message (the prompt's own messages on the first call). Replies <see cref="MessageAccepted"/> or
/// <see cref="Rejected"/>. A repeat with the same <see cref="RequestId"/> (a retry after a lost reply or a message dropped
/// during a shard hand-off) is answered with the task the first one created, never a second task.
/// </summary>
/// <para><see cref="Deadline"/> is when the caller stops waiting (and sending copies): a copy that arrives more than
/// <see cref="InstanceDecider.StaleCopyGrace"/> after it, and whose request the instance no longer remembers, is dropped
/// unanswered. (A node restarted at the same address can receive messages sent to its previous incarnation long after.)</para>
public sealed record ExecuteMessage(string InstanceId, string? UserInput = null, string? RequestId = null, InstanceScope? Caller = null,
    bool Subscribe = false, string? KeyId = null, DateTimeOffset? Deadline = null, Prompts.PromptSettings? Settings = null,
    string? TraceParent = null, IReadOnlyList<Attachments.MessagePart>? Parts = null) : IInstanceCommand;

/// <summary>
/// Starts this (new) instance as a copy of another's state as of one of its events: its start (prompt, version, settings,
/// config), user values and finished turns. Replies <see cref="InstanceView"/> or <see cref="Rejected"/>.
/// </summary>
public sealed record ForkInstance(string InstanceId, InstanceScope Scope, InstanceStarted Source,
    IReadOnlyDictionary<string, string> UserValues, IReadOnlyList<ConversationMessage> Conversation, string FromInstanceId,
    long FromSequenceNr, InstanceScope? Caller = null, string? KeyId = null) : IInstanceCommand;

/// <summary>Sets and removes user-provided variables. Replies <see cref="InstanceView"/> or <see cref="Rejected"/>.</summary>
public sealed record UpdateVariables(
    string InstanceId,
    IReadOnlyDictionary<string, string>? Set = null,
    IReadOnlyList<string>? Remove = null,
    InstanceScope? Caller = null) : IInstanceCommand;

/// <summary>Replies <see cref="InstanceView"/> or <see cref="Rejected"/>.</summary>
public sealed record GetInstance(string InstanceId, InstanceScope? Caller = null) : IInstanceCommand;

/// <summary>Cancels the running task, if any. Replies <see cref="CancelResult"/> once the outcome is persisted.</summary>
public sealed record CancelExecution(string InstanceId, InstanceScope? Caller = null) : IInstanceCommand;

/// <summary>Removes the instance for good (tombstone); its run rows stay. Replies <see cref="InstanceCleanedUp"/> or <see cref="Rejected"/>.</summary>
public sealed record CleanupInstance(string InstanceId, InstanceScope? Caller = null) : IInstanceCommand;

/// <summary>
/// Opens a reply stream: the running task (from chunk <see cref="FromIndex"/>), else a replay of the last task, else the
/// next task. Replies <see cref="ReplyStreamOffer"/> (a stream readable on any node) or <see cref="Rejected"/>.
/// </summary>
/// <remarks>
/// With <paramref name="ResumeTaskId"/> the subscriber resumes a stream of that task: when the running (or last) task
/// is another one, <paramref name="FromIndex"/> is ignored and the stream starts at that task's first chunk.
/// </remarks>
public sealed record SubscribeReplyStream(string InstanceId, long FromIndex = 0, string? ResumeTaskId = null, InstanceScope? Caller = null)
    : IInstanceCommand;

/// <summary>
/// From the reaper: reap the instance if it is still completed since <see cref="CompletedAt"/>. With
/// <see cref="OverLimit"/> the node keeps more completed instances in memory than allowed: a conversation that may go
/// on (chat allowed) is then only passivated (it leaves memory, keeps its journal and is reaped when its time is up),
/// while a one-shot instance is reaped.
/// </summary>
public sealed record ReapInstance(string InstanceId, DateTimeOffset CompletedAt, bool OverLimit = false) : IInstanceCommand
{
    public InstanceScope? Caller => null;
}

/// <summary>
/// From the task sweeper: the row of task <see cref="TaskId"/> is still pending or streaming although nobody updated it
/// for a while. Being addressed is the point: an instance whose node died recovers here, marks its unfinished task
/// interrupted and re-sends the rows the run store lacks. A live instance running the task ignores it. An instance that
/// knows no such unfinished task (its journal never recorded the task's outcome, or it was never started or is reaped)
/// answers <see cref="TaskUnknown"/>, and the sweeper closes the row itself as interrupted; otherwise no reply.
/// </summary>
public sealed record CheckTask(string InstanceId, string TaskId) : IInstanceCommand
{
    public InstanceScope? Caller => null;
}

/// <summary>
/// Read your own writes on runs: answered with <see cref="RunRowsWritten"/> once the run store holds the final row of
/// every task the instance has finished, or when <c>Instances:RunReadSyncWait</c> has passed (then <c>Synced</c> is false).
/// </summary>
public sealed record AwaitRunRows(string InstanceId, InstanceScope? Caller = null) : IInstanceCommand;

/// <summary>
/// A person's decision on tool call <see cref="CallId"/> of the running turn, which waits for it: approve (the call runs)
/// or reject (the model is told, with <see cref="Reason"/>). Decided exactly once: a second decision is refused with
/// <c>already_decided</c>, a call the turn does not wait for with <c>tool_call_not_found</c>. <see cref="KeyId"/> is who
/// decided (the API key's id). Replies <see cref="ToolCallDecision"/> once the decision is journaled, or <see cref="Rejected"/>.
/// </summary>
public sealed record DecideToolCall(string InstanceId, string CallId, bool Approve, string? Reason = null, string? KeyId = null,
    InstanceScope? Caller = null) : IInstanceCommand;

/// <summary>
/// The results of client tool calls the running turn waits for (<see cref="ClientToolResult.Result"/>: what the model is
/// told, text or JSON text). All or nothing: a call that does not wait for the caller's result refuses the whole post with
/// <c>tool_call_not_awaiting</c>. Replies <see cref="ToolResultsAccepted"/> once they are journaled, or <see cref="Rejected"/>.
/// </summary>
public sealed record SubmitToolResults(string InstanceId, IReadOnlyList<ClientToolResult> Results, InstanceScope? Caller = null)
    : IInstanceCommand;

/// <summary>The result of one client tool call.</summary>
public sealed record ClientToolResult(string CallId, string Result);

/// <summary>The instance asks itself for the next model call of its running turn (every tool call of the step has its result).</summary>
internal sealed record ContinueTurn(string InstanceId, string TaskId) : IInstanceCommand, Akka.Actor.INoSerializationVerificationNeeded
{
    public InstanceScope? Caller => null;
}
