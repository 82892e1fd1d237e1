using PromptActors.Instances;

namespace PromptActors.Streaming;

/// <summary>Reply to <see cref="SubscribeReplyStream"/> from an instance on the caller's own node: the events arrive in
/// <see cref="Events"/>. Never leaves the node; the caller completes the channel's writer when it stops reading.</summary>
public sealed record LocalReplyStream(string InstanceId, string? TaskId, System.Threading.Channels.Channel<ReplyEvent> Events)
    : Akka.Actor.INoSerializationVerificationNeeded;

/// <summary>Reply to an <see cref="ExecuteMessage"/> with <c>Subscribe</c> on this node: the accepted task and its stream from chunk 0.</summary>
public sealed record LocalAcceptedStream(MessageAccepted Accepted, LocalReplyStream Stream) : Akka.Actor.INoSerializationVerificationNeeded;

/// <summary>Reply to an <see cref="ExecuteMessage"/> with <c>Subscribe</c> from another node: the accepted task and its stream.</summary>
public sealed record AcceptedStreamOffer(MessageAccepted Accepted, ReplyStreamOffer Offer) : IPromptActorsMessage;

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
/// <summary>The task completed; <see cref="Output"/> is the reply's parsed JSON when the prompt asks for JSON.</summary>
public sealed record ReplyCompleted(string TaskId, string Text, ExecutionStats Stats, System.Text.Json.JsonElement? Output = null)
    : ReplyEvent(TaskId);

/// <summary>The task failed or was cancelled; <see cref="PartialText"/> is what streamed before.</summary>
public sealed record ReplyFailed(string TaskId, string Code, string Detail, string PartialText) : ReplyEvent(TaskId)
{
    /// <summary>The stream ended before the task did (the instance stopped, its node left, the stream broke).</summary>
    public static ReplyFailed Interrupted(string taskId, string detail, string partialText = "") =>
        new(taskId, ErrorCodes.Interrupted, detail, partialText);

    /// <summary>This subscriber's buffer was full and it was dropped; the task and the other subscribers go on.</summary>
    public static ReplyFailed TooSlow(string taskId, string detail) => new(taskId, ErrorCodes.SubscriberTooSlow, detail, "");
}

/// <summary>
/// A tool call of the task: asked for by the model, or approved. <see cref="Index"/> counts with the chunks (one sequence per
/// task across all its steps, so a stream resumes at any step). <see cref="Status"/> is <c>running</c>,
/// <c>awaiting_approval</c>, <c>awaiting_client</c> or <c>failed</c> (not invoked: its result follows).
/// </summary>
public sealed record ReplyToolCall(string TaskId, long Index, string CallId, string Name, string Arguments, ToolCallStatus Status)
    : ReplyEvent(TaskId);

/// <summary>A tool call's result: its status and the start of the result (<see cref="Preview"/>).</summary>
public sealed record ReplyToolResult(string TaskId, long Index, string CallId, string Name, ToolCallStatus Status, string Preview)
    : ReplyEvent(TaskId);

/// <summary>
/// The reply streamed so far (since the previous step) is not the JSON the prompt asks for (<see cref="Errors"/>): it is
/// discarded, and the model is asked to repair it; the repaired reply's chunks follow.
/// </summary>
public sealed record ReplyRepair(string TaskId, long Index, string Errors) : ReplyEvent(TaskId);
