using PromptActors.Models;
using PromptActors.Variables;

namespace PromptActors.Instances;

/// <summary>Persisted events of an execution instance. Manifests are stable; see the golden fixtures in the tests.</summary>
public interface IInstanceEvent : IPromptActorsMessage;

public sealed record InstanceStarted(
    string InstanceId,
    string PromptId,
    int PromptVersion,
    InstanceScope Scope,
    IReadOnlyDictionary<string, string> UserValues,
    ExecutionConfig Config,
    RunSource Source,
    string? RunName,
    bool Retain,
    Prompts.PromptSettings Settings,
    DateTimeOffset At,
    Prompts.PromptOwner? PromptOwner = null) : IInstanceEvent
{
    /// <summary>The scope of the prompt the instance is pinned to (null in events written before owners: a built-in).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public Prompts.PromptOwner PromptOwnedBy => PromptOwner ?? Prompts.PromptOwner.BuiltIn;
}

/// <summary>
/// The instance began as a fork of <see cref="FromInstanceId"/> as of its event <see cref="FromSequenceNr"/>: its start
/// (re-addressed to this instance), user values and finished turns. It has its own journal from here, and its own run.
/// </summary>
public sealed record InstanceForked(
    InstanceStarted Start,
    IReadOnlyDictionary<string, string> UserValues,
    IReadOnlyList<ConversationMessage> Conversation,
    string FromInstanceId,
    long FromSequenceNr,
    DateTimeOffset At) : IInstanceEvent;

public sealed record VariablesUpdated(
    IReadOnlyDictionary<string, string> Set,
    IReadOnlyList<string> Removed,
    DateTimeOffset At) : IInstanceEvent;

/// <summary>
/// A task was created. <see cref="NewRunId"/> is set on the first tracked message (the run is created with it).
/// <see cref="RequestId"/> is the caller's id of the <see cref="ExecuteMessage"/> (null in events written before it was kept):
/// a repeat of the same request is answered with this task instead of creating another.
/// <see cref="Synced"/> lists earlier tasks whose final row the run store has confirmed since the last event: the outbox
/// records its acknowledgements on the next event instead of writing a <see cref="TaskSynced"/> row per turn. A task
/// whose acknowledgement never reached the journal is written again after recovery (the write is idempotent).
/// <see cref="Settings"/> are the message's own settings for this turn (null: the instance's). <see cref="Parts"/> are the
/// message's images, files and text resources (binary ones by reference: their bytes are in the attachment store).
/// </summary>
public sealed record MessageSubmitted(
    string TaskId,
    string? NewRunId,
    string? UserMessage,
    string Model,
    string Provider,
    DateTimeOffset At,
    string? RequestId = null,
    IReadOnlyList<string>? Synced = null,
    string? KeyId = null,
    Prompts.PromptSettings? Settings = null,
    IReadOnlyList<Attachments.MessagePart>? Parts = null) : IInstanceEvent;

/// <summary>
/// The turn completed with <see cref="Text"/>. Usage, cost and times are the turn's (every model call of it; time to first
/// token of its first call); <see cref="CallTimeToFirstTokenMs"/> is that of its last model call when it made more than one.
/// The same holds for <see cref="ExecutionFailed"/> and <see cref="ExecutionCancelled"/>.
/// </summary>
public sealed record ExecutionCompleted(
    string TaskId,
    string Text,
    TokenUsage Usage,
    decimal Cost,
    double? TimeToFirstTokenMs,
    double TotalTimeMs,
    DateTimeOffset At,
    double? CallTimeToFirstTokenMs = null) : IInstanceEvent;

/// <summary>The task failed; <see cref="Code"/> is <c>provider_error</c>, <c>invalid_output</c> (the reply is not the JSON the prompt asks
/// for) or <c>interrupted</c> (found unfinished on recovery).</summary>
public sealed record ExecutionFailed(
    string TaskId,
    string Code,
    string Detail,
    string PartialText,
    TokenUsage Usage,
    decimal Cost,
    double? TimeToFirstTokenMs,
    double TotalTimeMs,
    DateTimeOffset At,
    double? CallTimeToFirstTokenMs = null) : IInstanceEvent;

public sealed record ExecutionCancelled(
    string TaskId,
    string PartialText,
    TokenUsage Usage,
    decimal Cost,
    double? TimeToFirstTokenMs,
    double TotalTimeMs,
    DateTimeOffset At,
    double? CallTimeToFirstTokenMs = null) : IInstanceEvent;

/// <summary>
/// Model call <see cref="Iteration"/> of task <see cref="TaskId"/> replied <see cref="Text"/>, which is not the JSON the
/// prompt's response format asks for (<see cref="Errors"/>), and the turn may still repair it: the next model call is asked
/// to. Usage, cost and times are that call's own; <see cref="ChunkCount"/> is how many chunks it streamed.
/// </summary>
public sealed record OutputRepairRequested(
    string TaskId,
    int Iteration,
    string Text,
    string Errors,
    TokenUsage Usage,
    decimal Cost,
    double? TimeToFirstTokenMs,
    double TotalTimeMs,
    DateTimeOffset At,
    int ChunkCount = 0) : IInstanceEvent;

/// <summary>
/// The task's final row is in the run store; the outbox stops retrying it. Written by earlier versions after every task;
/// the acknowledgement now rides on the next <see cref="MessageSubmitted"/> (<see cref="MessageSubmitted.Synced"/>).
/// </summary>
public sealed record TaskSynced(string TaskId) : IInstanceEvent;

/// <summary>Tombstone: later commands get <c>instance_expired</c>.</summary>
public sealed record InstanceReaped(DateTimeOffset At) : IInstanceEvent;
