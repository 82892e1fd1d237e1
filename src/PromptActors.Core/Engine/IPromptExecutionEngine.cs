using PromptActors.Instances;
using PromptActors.Prompts;
using PromptActors.Runs;
using PromptActors.Variables;

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
    string? Model = null);

/// <summary>
/// The embedding API: the original design's verbs over the actor system. Every refusal is a
/// <see cref="PromptActorsException"/> whose <c>Code</c> is one of <see cref="ErrorCodes"/>; a refused call changes nothing.
/// </summary>
public interface IPromptExecutionEngine
{
    /// <summary>Creates an instance (and runs it at once when <c>autoRun</c> is on).</summary>
    Task<InstanceView> StartInstanceAsync(StartInstanceRequest request, CancellationToken cancellationToken = default);

    /// <summary>Sends the next message; returns once the task is persisted and the model call started.</summary>
    Task<MessageAccepted> ExecuteMessageAsync(string instanceId, string? userInput = null, CancellationToken cancellationToken = default);

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

    /// <summary>Removes the instance for good; its run rows stay.</summary>
    Task CleanupAsync(string instanceId, CancellationToken cancellationToken = default);

    /// <summary>Saves a new prompt version and invalidates every node's cache.</summary>
    Task<Prompt> SavePromptAsync(PromptDefinition definition, CancellationToken cancellationToken = default);

    Task<Prompt?> GetPromptAsync(string promptId, int? version = null, CancellationToken cancellationToken = default);

    /// <summary>Replaces one scope's variables and invalidates every node's cache.</summary>
    Task SetScopeVariablesAsync(ScopeKind kind, string scopeId, IReadOnlyDictionary<string, string> values,
        CancellationToken cancellationToken = default);

    Task<IReadOnlyDictionary<string, string>> GetScopeVariablesAsync(ScopeKind kind, string scopeId,
        CancellationToken cancellationToken = default);

    Task<RunRecord?> GetRunAsync(string runId, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<RunRecord>> ListRunsAsync(string userId, int limit = 100, CancellationToken cancellationToken = default);
}
