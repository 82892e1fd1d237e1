using PromptActors.Instances;
using PromptActors.Prompts;
using PromptActors.Runs;
using PromptActors.Variables;
using PromptActors.Streaming;

namespace PromptActors.Engine;

/// <summary>What a caller asks for when starting an instance (the original design's <c>startPromptInstance</c>).</summary>
public sealed record StartInstanceRequest(
    string PromptId,
    InstanceScope Scope,
    IReadOnlyDictionary<string, string>? Variables = null,
    ExecutionConfig? ExecutionConfig = null,
    RunSource? Source = null,
    string? RunName = null,
    bool Retain = false,
    int? PromptVersion = null,
    string? InstanceId = null,
    string? Model = null,
    IReadOnlyList<Prompts.ClientTool>? ClientTools = null);

/// <summary>A message accepted together with the stream of its reply (one ask): chunks from the first, then one terminal event.</summary>
public sealed record StreamedMessage(MessageAccepted Accepted, IAsyncEnumerable<ReplyEvent> Events);

/// <summary>
/// The embedding API: the original design's verbs over the actor system. Every refusal is a
/// <see cref="PromptActorsException"/> whose <c>Code</c> is one of <see cref="ErrorCodes"/>; a refused call changes nothing.
/// </summary>
public interface IPromptExecutionEngine
{
    /// <summary>
    /// The same engine acting for one caller (what an API key is bound to: user, org and project). Every call is then
    /// checked inside the engine against that whole scope: another scope's instance, run or scope variables answer exactly
    /// as an unknown id does, an instance can only be started in the caller's scope, and runs are listed for that scope
    /// only. The unrestricted engine (no caller) is for trusted code that checks access itself.
    /// </summary>
    IPromptExecutionEngine ForCaller(InstanceScope caller);

    /// <summary>
    /// <see cref="ForCaller(InstanceScope)"/>, recording <paramref name="keyId"/> (the id of the caller's API key, never its
    /// secret) on every task the caller's messages create: in the journal and on the task rows (<c>ai_tasks.key_id</c>).
    /// </summary>
    IPromptExecutionEngine ForCaller(InstanceScope caller, string? keyId) => ForCaller(caller);

    /// <summary>
    /// The instance's journaled events in order, and the state as of event <paramref name="at"/> (the last when null): the
    /// original design's time travel. Variable values appear only when the instance shows variables. A reaped instance
    /// has no history (<c>instance_expired</c>).
    /// </summary>
    Task<InstanceHistory> GetHistoryAsync(string instanceId, long? at = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Starts a new instance of the caller's (<paramref name="newInstanceId"/>, or a new id) whose state is this one's as of
    /// event <paramref name="at"/> (or its last): the same prompt version, settings, config and user values, and the turns
    /// finished by then. It has its own journal, run and id, so another reply can be tried from any point.
    /// </summary>
    Task<InstanceView> ForkInstanceAsync(string instanceId, long at, string? newInstanceId = null,
        CancellationToken cancellationToken = default);

    /// <summary>Creates an instance (and runs it at once when <c>autoRun</c> is on).</summary>
    Task<InstanceView> StartInstanceAsync(StartInstanceRequest request, CancellationToken cancellationToken = default);

    /// <summary>Sends the next message; returns once the task is persisted and the model call started.</summary>
    Task<MessageAccepted> ExecuteMessageAsync(string instanceId, string? userInput = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Sends the next message and subscribes to its reply in the same step (one ask of the instance). Refusals throw here,
    /// before any event; the stream then starts at the task's first chunk.
    /// </summary>
    Task<StreamedMessage> ExecuteMessageStreamAsync(string instanceId, string? userInput = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// <see cref="ExecuteMessageAsync(string, string?, CancellationToken)"/> with the caller's idempotency key: the same
    /// <paramref name="requestId"/> sent again to the same instance (a retry after a lost answer) is answered with the task
    /// the first one created, never a second task, for at least five minutes of the instance's submissions. Null: a new
    /// request each call.
    /// </summary>
    Task<MessageAccepted> ExecuteMessageAsync(string instanceId, string? userInput, string? requestId, CancellationToken cancellationToken = default);

    /// <summary><see cref="ExecuteMessageStreamAsync(string, string?, CancellationToken)"/> with an idempotency key (a repeat streams the first task's reply).</summary>
    Task<StreamedMessage> ExecuteMessageStreamAsync(string instanceId, string? userInput, string? requestId,
        CancellationToken cancellationToken = default);

    /// <summary>
    /// <see cref="ExecuteMessageAsync(string, string?, string?, CancellationToken)"/> with settings for this turn only:
    /// the fields of <see cref="SettingsOverrides.Allowed"/> (temperature, token limit, …) replace the instance's for this
    /// message; any other field is refused (<see cref="ValidationFailedException"/>). The task row keeps them.
    /// </summary>
    Task<MessageAccepted> ExecuteMessageAsync(string instanceId, string? userInput, string? requestId, PromptSettings? settings,
        CancellationToken cancellationToken = default);

    /// <summary><see cref="ExecuteMessageStreamAsync(string, string?, string?, CancellationToken)"/> with settings for this turn only.</summary>
    Task<StreamedMessage> ExecuteMessageStreamAsync(string instanceId, string? userInput, string? requestId, PromptSettings? settings,
        CancellationToken cancellationToken = default);

    /// <summary>
    /// Sends a message that may carry parts: images (a URL, or bytes), files and text resources (notes, web pages). Image and
    /// file bytes are stored once in the attachment store, owned by the instance's scope, before the message is sent; the
    /// instance journals only their references. A part over <c>PromptActors:Attachments</c>' limits is refused with
    /// <see cref="PayloadTooLargeException"/>, a media type it does not accept with <see cref="UnsupportedMediaTypeException"/>.
    /// </summary>
    Task<MessageAccepted> SendAsync(string instanceId, Attachments.MessageInput message, CancellationToken cancellationToken = default);

    /// <summary><see cref="SendAsync"/>, streaming the reply.</summary>
    Task<StreamedMessage> SendStreamingAsync(string instanceId, Attachments.MessageInput message, CancellationToken cancellationToken = default);

    /// <summary>
    /// The bytes of an image or file part sent in the caller's scope (any scope for the unrestricted engine); null when there
    /// is none the caller may read, whether or not another scope has one.
    /// </summary>
    Task<Attachments.Attachment?> GetAttachmentAsync(string sha256, CancellationToken cancellationToken = default);

    /// <summary>
    /// Opens a reply stream (as <see cref="StreamAsync"/>, from chunk <paramref name="fromIndex"/>; with
    /// <paramref name="resumeTaskId"/> as <see cref="ResumeStreamAsync"/>). Refusals (an unknown instance, a task it does not
    /// know) throw here, so a caller can answer them before it starts streaming; reading then sees only reply events.
    /// </summary>
    Task<IAsyncEnumerable<ReplyEvent>> OpenStreamAsync(string instanceId, long fromIndex = 0, string? resumeTaskId = null,
        CancellationToken cancellationToken = default);

    /// <summary>The reply of the running task (or a replay of the last one, or the next one): chunks, then one terminal event.</summary>
    IAsyncEnumerable<ReplyEvent> StreamAsync(string instanceId, long fromIndex = 0, CancellationToken cancellationToken = default);

    /// <summary>
    /// Resumes a stream after chunk <paramref name="afterIndex"/> of task <paramref name="afterTaskId"/> (what an SSE
    /// client's <c>Last-Event-ID</c> names). When the running or last task is another one, its stream starts at chunk 0,
    /// so a reconnect across tasks loses nothing.
    /// </summary>
    IAsyncEnumerable<ReplyEvent> ResumeStreamAsync(string instanceId, string afterTaskId, long afterIndex,
        CancellationToken cancellationToken = default);

    /// <summary>Waits for the running (or last) task to end and returns its terminal event.</summary>
    Task<ReplyEvent> WaitForReplyAsync(string instanceId, CancellationToken cancellationToken = default);

    Task<InstanceView> GetInstanceAsync(string instanceId, CancellationToken cancellationToken = default);

    Task<InstanceView> UpdateVariablesAsync(string instanceId, IReadOnlyDictionary<string, string>? set,
        IReadOnlyList<string>? remove = null, CancellationToken cancellationToken = default);

    Task<CancelResult> CancelAsync(string instanceId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Approves or rejects tool call <paramref name="callId"/> of the instance's running turn, which waits for it; decided
    /// exactly once, from any node. A rejection (with <paramref name="reason"/>) is the call's result for the model.
    /// Throws <see cref="PromptActorsException"/> <c>already_decided</c> for a call decided before, <c>tool_call_not_found</c>
    /// for a call the turn does not wait for.
    /// </summary>
    Task<ToolCallDecision> DecideToolCallAsync(string instanceId, string callId, bool approve, string? reason = null,
        CancellationToken cancellationToken = default);

    /// <summary>
    /// The results of client tool calls (the prompt's <c>clientTools</c>) the running turn waits for; the turn goes on once
    /// every call of its step has one. Throws <see cref="PromptActorsException"/> <c>tool_call_not_awaiting</c> when a call
    /// does not wait for a result from the caller (nothing is recorded then).
    /// </summary>
    Task<ToolResultsAccepted> SubmitToolResultsAsync(string instanceId, IReadOnlyList<ClientToolResult> results,
        CancellationToken cancellationToken = default);

    /// <summary>Removes the instance for good; its run rows stay.</summary>
    Task CleanupAsync(string instanceId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Saves a new prompt version in <paramref name="owner"/>'s scope and invalidates every node's cache. A caller-bound
    /// engine saves into one of its own scopes (its narrowest, project → org → user, when none is named; another scope is
    /// <c>not_found</c>, the built-ins are <c>forbidden</c>); the unrestricted engine saves built-ins unless told otherwise.
    /// </summary>
    Task<Prompt> SavePromptAsync(PromptDefinition definition, PromptOwner? owner, CancellationToken cancellationToken = default);

    /// <summary>Saves a new prompt version in the default scope (see the overload with an owner).</summary>
    Task<Prompt> SavePromptAsync(PromptDefinition definition, CancellationToken cancellationToken = default) =>
        SavePromptAsync(definition, null, cancellationToken);

    /// <summary>
    /// The prompt as instances started by this caller would see it: the id resolved in the caller's project, org, user,
    /// then the built-ins (<see cref="PromptOwner.ResolutionOrder"/>); the unrestricted engine reads the built-ins. Another
    /// scope's prompt is null, exactly as an unknown id.
    /// </summary>
    Task<Prompt?> GetPromptAsync(string promptId, int? version = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// The latest version of every prompt this caller sees (as <see cref="GetPromptAsync"/> resolves each id), ordered by
    /// id, at most <paramref name="limit"/> (1-1000); the unrestricted engine lists the built-ins.
    /// </summary>
    Task<IReadOnlyList<Prompt>> ListPromptsAsync(int limit = 100, CancellationToken cancellationToken = default);

    /// <summary>
    /// Every version of the prompt <paramref name="promptId"/> resolves to for this caller, newest first, at most
    /// <paramref name="limit"/> (1-1000); empty for an id the caller does not see.
    /// </summary>
    Task<IReadOnlyList<Prompt>> GetPromptVersionsAsync(string promptId, int limit = 100, CancellationToken cancellationToken = default);

    /// <summary>Replaces one scope's variables and invalidates every node's cache.</summary>
    Task SetScopeVariablesAsync(ScopeKind kind, string scopeId, IReadOnlyDictionary<string, string> values,
        CancellationToken cancellationToken = default);

    Task<IReadOnlyDictionary<string, string>> GetScopeVariablesAsync(ScopeKind kind, string scopeId,
        CancellationToken cancellationToken = default);

    /// <summary>The run with its tasks, or null when it does not exist (or belongs to another scope than the caller's).</summary>
    Task<RunRecord?> GetRunAsync(string runId, CancellationToken cancellationToken = default);

    /// <summary>The user's newest runs; for a caller-bound engine only its own user, and only runs of its whole scope.</summary>
    Task<IReadOnlyList<RunRecord>> ListRunsAsync(string userId, int limit = 100, CancellationToken cancellationToken = default);
}
