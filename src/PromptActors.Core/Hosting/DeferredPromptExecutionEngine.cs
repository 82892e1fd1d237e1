using PromptActors.Engine;
using PromptActors.Instances;
using PromptActors.Prompts;
using PromptActors.Runs;
using PromptActors.Variables;
using PromptActors.Streaming;

namespace PromptActors.Hosting;

/// <summary>
/// The engine as DI hands it out: resolvable before the actor system has started (hosted services are built first),
/// usable once it has.
/// </summary>
internal sealed class DeferredPromptExecutionEngine(PromptActorsRuntimeHolder holder) : IPromptExecutionEngine
{
    private IPromptExecutionEngine Engine => holder.Runtime.Engine;

    public IPromptExecutionEngine ForCaller(InstanceScope caller) => Engine.ForCaller(caller);

    public IPromptExecutionEngine ForCaller(InstanceScope caller, string? keyId) => Engine.ForCaller(caller, keyId);

    public Task<StreamedMessage> ExecuteMessageStreamAsync(string instanceId, string? userInput = null,
        CancellationToken cancellationToken = default) =>
        Engine.ExecuteMessageStreamAsync(instanceId, userInput, cancellationToken);

    public Task<IAsyncEnumerable<ReplyEvent>> OpenStreamAsync(string instanceId, long fromIndex = 0, string? resumeTaskId = null,
        CancellationToken cancellationToken = default) =>
        Engine.OpenStreamAsync(instanceId, fromIndex, resumeTaskId, cancellationToken);

    public Task<InstanceView> StartInstanceAsync(StartInstanceRequest request, CancellationToken cancellationToken = default) =>
        Engine.StartInstanceAsync(request, cancellationToken);

    public Task<MessageAccepted> ExecuteMessageAsync(string instanceId, string? userInput = null, CancellationToken cancellationToken = default) =>
        Engine.ExecuteMessageAsync(instanceId, userInput, cancellationToken);

    public Task<MessageAccepted> ExecuteMessageAsync(string instanceId, string? userInput, string? requestId,
        CancellationToken cancellationToken = default) =>
        Engine.ExecuteMessageAsync(instanceId, userInput, requestId, cancellationToken);

    public Task<StreamedMessage> ExecuteMessageStreamAsync(string instanceId, string? userInput, string? requestId,
        CancellationToken cancellationToken = default) =>
        Engine.ExecuteMessageStreamAsync(instanceId, userInput, requestId, cancellationToken);

    public IAsyncEnumerable<ReplyEvent> StreamAsync(string instanceId, long fromIndex = 0, CancellationToken cancellationToken = default) =>
        Engine.StreamAsync(instanceId, fromIndex, cancellationToken);

    public IAsyncEnumerable<ReplyEvent> ResumeStreamAsync(string instanceId, string afterTaskId, long afterIndex,
        CancellationToken cancellationToken = default) =>
        Engine.ResumeStreamAsync(instanceId, afterTaskId, afterIndex, cancellationToken);

    public Task<ReplyEvent> WaitForReplyAsync(string instanceId, CancellationToken cancellationToken = default) =>
        Engine.WaitForReplyAsync(instanceId, cancellationToken);

    public Task<InstanceView> GetInstanceAsync(string instanceId, CancellationToken cancellationToken = default) =>
        Engine.GetInstanceAsync(instanceId, cancellationToken);

    public Task<InstanceView> UpdateVariablesAsync(string instanceId, IReadOnlyDictionary<string, string>? set,
        IReadOnlyList<string>? remove = null, CancellationToken cancellationToken = default) =>
        Engine.UpdateVariablesAsync(instanceId, set, remove, cancellationToken);

    public Task<CancelResult> CancelAsync(string instanceId, CancellationToken cancellationToken = default) =>
        Engine.CancelAsync(instanceId, cancellationToken);

    public Task CleanupAsync(string instanceId, CancellationToken cancellationToken = default) =>
        Engine.CleanupAsync(instanceId, cancellationToken);

    public Task<Prompt> SavePromptAsync(PromptDefinition definition, PromptOwner? owner, CancellationToken cancellationToken = default) =>
        Engine.SavePromptAsync(definition, owner, cancellationToken);

    public Task<Prompt?> GetPromptAsync(string promptId, int? version = null, CancellationToken cancellationToken = default) =>
        Engine.GetPromptAsync(promptId, version, cancellationToken);

    public Task SetScopeVariablesAsync(ScopeKind kind, string scopeId, IReadOnlyDictionary<string, string> values,
        CancellationToken cancellationToken = default) =>
        Engine.SetScopeVariablesAsync(kind, scopeId, values, cancellationToken);

    public Task<IReadOnlyDictionary<string, string>> GetScopeVariablesAsync(ScopeKind kind, string scopeId,
        CancellationToken cancellationToken = default) =>
        Engine.GetScopeVariablesAsync(kind, scopeId, cancellationToken);

    public Task<RunRecord?> GetRunAsync(string runId, CancellationToken cancellationToken = default) =>
        Engine.GetRunAsync(runId, cancellationToken);

    public Task<IReadOnlyList<RunRecord>> ListRunsAsync(string userId, int limit = 100, CancellationToken cancellationToken = default) =>
        Engine.ListRunsAsync(userId, limit, cancellationToken);
}
