using System.Text.Json.Serialization;
using PromptActors.Models;
using PromptActors.Tools;

namespace PromptActors.Instances;

/// <summary>
/// One step of a running turn. A turn is a sequence of durable steps held in the state (<see cref="CurrentTask.Steps"/>),
/// each opened and closed by journaled events, so recovery knows exactly where a turn stood: a model call
/// (<see cref="ModelCallStep"/>), then, when the model asks for tools, the calls (<see cref="ToolCallsStep"/>), then the next
/// model call with their results, and so on. What each step becomes on recovery is decided in <see cref="InstanceDecider.Recover"/>.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "kind")]
[JsonDerivedType(typeof(ModelCallStep), "model_call")]
[JsonDerivedType(typeof(ToolCallsStep), "tool_calls")]
public abstract record TurnStep(DateTimeOffset StartedAt);

/// <summary>
/// The model is called with the turn's messages and its reply streams (<see cref="Iteration"/> counts the turn's model calls
/// from 0). The first is opened by <see cref="MessageSubmitted"/>, a later one by the last result of the tool calls before it;
/// closed by <see cref="ExecutionCompleted"/>, <see cref="ExecutionFailed"/>, <see cref="ExecutionCancelled"/> or
/// <see cref="ToolCallsRequested"/>. The call itself is not durable: on recovery the first model call of a turn ends the turn
/// <c>interrupted</c> (nothing of it happened yet); a later one is made again (the tools before it have run).
/// <see cref="Ended"/> is what a call that ended asking for tools cost (set by <see cref="ToolCallsRequested"/>; the turn's
/// last call is costed by the event that ends the turn): each model call of a turn is one ai_tasks row.
/// </summary>
/// <see cref="Repair"/> is set on a call that repairs the reply before it (opened by <see cref="OutputRepairRequested"/>).
public sealed record ModelCallStep(string Model, string Provider, DateTimeOffset StartedAt, int Iteration = 0,
    ModelCallFigures? Ended = null, OutputRepair? Repair = null) : TurnStep(StartedAt);

/// <summary>
/// The reply of the call before was not the JSON the prompt asks for: this call gets the conversation, that reply and a
/// request to fix it with <see cref="Errors"/>. <see cref="ChunkCount"/> is how many chunks the invalid reply streamed and
/// <see cref="Index"/> the stream index of the <c>repair</c> event after them (the same after a restart).
/// </summary>
public sealed record OutputRepair(string InvalidText, string Errors, int ChunkCount, int Index);

/// <summary>
/// What one model call of a turn produced and cost: its own usage, cost and timing (not the turn's so far), when it ended, and
/// its text (null when it streamed none).
/// </summary>
public sealed record ModelCallFigures(TokenUsage Usage, decimal Cost, double? TimeToFirstTokenMs, double TotalTimeMs,
    DateTimeOffset At, string? Text = null);

/// <summary>
/// The tool calls the model asked for in model call <see cref="Iteration"/>: opened by <see cref="ToolCallsRequested"/>
/// (which records the calls that start at once as started), each call closed by a <see cref="ToolCallFinished"/> or a
/// rejecting <see cref="ToolCallDecided"/>. When every call has its result the next model call opens. <see cref="ChunkCount"/>
/// is how many chunks the model call before it streamed (so the stream's indices are the same after a restart).
/// </summary>
public sealed record ToolCallsStep(int Iteration, IReadOnlyList<ToolCallEntry> Calls, DateTimeOffset StartedAt, int ChunkCount = 0)
    : TurnStep(StartedAt)
{
    [JsonIgnore]
    public bool AllFinished => Calls.All(c => c.Finished);

    public ToolCallEntry? Find(string callId) => Calls.FirstOrDefault(c => c.CallId == callId);

    /// <summary>The stream index of the first chunk of the model call that asked for these calls.</summary>
    [JsonIgnore]
    public int FirstChunkIndex => Calls.Count == 0 ? 0 : Calls[0].RequestIndex - ChunkCount;
}

/// <summary>
/// One tool call of a step, as far as the journal knows it. <see cref="RequestIndex"/>, <see cref="ApprovalIndex"/> and
/// <see cref="ResultIndex"/> are the reply-stream indices of its <c>tool_call</c> event, of the <c>tool_call</c> event of
/// its approval and of its <c>tool_result</c> event, given in journal order when the events are applied, so the stream
/// rebuilt after a restart numbers them as the live one did. <see cref="RequestedStatus"/> is its status when the model
/// asked for it.
/// </summary>
public sealed record ToolCallEntry(string CallId, string Name, string Arguments, ToolCallStatus Status, ToolPolicy Policy,
    DateTimeOffset? StartedAt = null, string? Result = null, DateTimeOffset? FinishedAt = null, double? DurationMs = null,
    string? DecidedBy = null, string? Reason = null, bool? Approved = null, int RequestIndex = 0, int? ApprovalIndex = null,
    int? ResultIndex = null, ToolCallStatus? RequestedStatus = null)
{
    [JsonIgnore]
    public bool Finished => Status is ToolCallStatus.Completed or ToolCallStatus.Failed or ToolCallStatus.Rejected
        or ToolCallStatus.OutcomeUnknown;
}

/// <summary>Where a tool call is.</summary>
public enum ToolCallStatus
{
    /// <summary>Started (journaled as started before it was invoked), no result yet.</summary>
    [JsonStringEnumMemberName("running")] Running,
    [JsonStringEnumMemberName("awaiting_approval")] AwaitingApproval,
    [JsonStringEnumMemberName("awaiting_client")] AwaitingClient,
    [JsonStringEnumMemberName("completed")] Completed,
    /// <summary>The tool threw, timed out, or was not invoked (unknown tool, arguments that are not valid JSON).</summary>
    [JsonStringEnumMemberName("failed")] Failed,
    [JsonStringEnumMemberName("rejected")] Rejected,
    /// <summary>An at-most-once call that was started when its node died: it is not made again.</summary>
    [JsonStringEnumMemberName("outcome_unknown")] OutcomeUnknown,
}
