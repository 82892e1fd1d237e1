using Akka.Actor;
using Akka.Hosting;
using PromptActors.Instances;
using PromptActors.Prompts;
using PromptActors.Variables;
using PromptActors.Streaming;
using PromptActors.Telemetry;

namespace PromptActors.Engine;

/// <summary>The embedding API over the instance shard region and the node's caches.</summary>
public sealed partial class PromptExecutionEngine : IPromptExecutionEngine
{
    private readonly ActorSystem _system;
    private readonly PromptActorsOptions _options;
    private readonly PromptActorsServices _services;
    private readonly IRequiredActor<ExecutionInstanceActor> _instances;
    private readonly IRequiredActor<PromptCacheActor> _promptCache;
    private readonly IRequiredActor<ScopedVariablesActor> _scopedVariables;
    private readonly PromptActorsNode _node;
    private readonly TimeSpan _timeout;
    private readonly TimeSpan _attemptTimeout;
    private readonly InstanceSettings _settings;
    private readonly bool _clustered;
    private readonly InstanceScope? _caller;
    private readonly string? _keyId;
    private readonly string? _tag; // the caller's tenant tag: its instance ids are "{tag}.{id}" (see TenantIds)

    /// <summary>How long after a node's removal an unanswered command is sent again (the region learns of it meanwhile).</summary>
    private static readonly TimeSpan ResendAfterRemoval = TimeSpan.FromMilliseconds(300);

    /// <summary>
    /// The engine over the node's actors, which it gets through Akka.Hosting's <see cref="IRequiredActor{TKey}"/>: it may be
    /// made before the actor system has started them (a command waits for them then).
    /// </summary>
    public PromptExecutionEngine(ActorSystem system, PromptActorsOptions options, PromptActorsServices services,
        IRequiredActor<ExecutionInstanceActor> instances, IRequiredActor<PromptCacheActor> promptCache,
        IRequiredActor<ScopedVariablesActor> scopedVariables)
    {
        _system = system;
        _options = options;
        _services = services;
        _instances = instances;
        _promptCache = promptCache;
        _scopedVariables = scopedVariables;
        _node = PromptActorsNode.Get(system);
        _timeout = options.AskTimeout;
        // One node loses no message between the engine and its instances: only a cluster re-sends.
        _clustered = options.Cluster.Enabled;
        _attemptTimeout = _clustered ? options.AskAttemptTimeout : options.AskTimeout;
        _settings = options.ToInstanceSettings();
    }

    private PromptExecutionEngine(PromptExecutionEngine engine, InstanceScope caller, string? keyId)
    {
        _keyId = keyId;
        _tag = TenantIds.Tag(caller);
        _system = engine._system;
        _options = engine._options;
        _services = engine._services;
        _instances = engine._instances;
        _promptCache = engine._promptCache;
        _scopedVariables = engine._scopedVariables;
        _node = engine._node;
        _timeout = engine._timeout;
        _attemptTimeout = engine._attemptTimeout;
        _settings = engine._settings;
        _clustered = engine._clustered;
        _caller = caller;
    }

    /// <summary>The caller this engine acts for, or null when it is the unrestricted engine.</summary>
    public InstanceScope? Caller => _caller;

    public IPromptExecutionEngine ForCaller(InstanceScope caller) => ForCaller(caller, null);

    public IPromptExecutionEngine ForCaller(InstanceScope caller, string? keyId)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (caller.Validate() is { Count: > 0 } errors)
            throw new ValidationFailedException(string.Join("; ", errors));
        if (keyId is not null && !PromptValidation.IsValidId(keyId))
            throw new ValidationFailedException("the key id must be 1-128 letters, digits, '_', '-' or '.'");
        if (_caller is not null && _caller != caller)
            throw new InvalidOperationException("an engine acting for one caller cannot act for another");
        return _caller == caller && _keyId == keyId ? this : new PromptExecutionEngine(this, caller, keyId);
    }

    public async Task<InstanceView> StartInstanceAsync(StartInstanceRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (_tag is not null && request.InstanceId is { } chosen && !PromptValidation.IsValidId(chosen))
            throw new ValidationFailedException("instanceId must be 1-128 letters, digits, '_', '-' or '.'");
        // A caller's instance lives under its tenant's tag: another tenant's id is never in the way, nor revealed.
        using var span = Span("promptactors.start_instance", request.InstanceId);
        var command = new StartInstance(Entity(request.InstanceId ?? Guid.NewGuid().ToString("N")), request.PromptId, request.Scope,
            request.Variables, request.ExecutionConfig, request.Source, request.RunName, request.Retain, request.PromptVersion, request.Model,
            _caller, _keyId, PromptActorsTelemetry.CurrentTraceParent(), request.ClientTools?.ToArray());
        if (_caller is not null && request.Scope != _caller)
            throw new ForbiddenException("a caller may only start instances in its own scope (user, org and project)");
        // Checked here too so a bad request never creates an entity.
        var errors = InstanceInput.CheckStart(command, _settings);
        if (errors.Count > 0)
            throw new ValidationFailedException(string.Join("; ", errors));
        return Outward(await AskAsync<InstanceView>(command, cancellationToken));
    }

    public Task<MessageAccepted> ExecuteMessageAsync(string instanceId, string? userInput = null, CancellationToken cancellationToken = default) =>
        ExecuteMessageAsync(instanceId, userInput, null, cancellationToken);

    public Task<MessageAccepted> ExecuteMessageAsync(string instanceId, string? userInput, string? requestId,
        CancellationToken cancellationToken = default) =>
        ExecuteMessageAsync(instanceId, userInput, requestId, null, cancellationToken);

    public Task<MessageAccepted> ExecuteMessageAsync(string instanceId, string? userInput, string? requestId, PromptSettings? settings,
        CancellationToken cancellationToken = default) =>
        SendCoreAsync(instanceId, userInput, RequestIdOrNew(requestId), CheckOverrides(settings), null, cancellationToken);

    private async Task<MessageAccepted> SendCoreAsync(string instanceId, string? userInput, string requestId, PromptSettings? settings,
        IReadOnlyList<Attachments.MessagePart>? parts, CancellationToken cancellationToken)
    {
        var deadline = Deadline();
        using var span = Span("promptactors.execute_message", instanceId);
        var trace = PromptActorsTelemetry.CurrentTraceParent();
        var (accepted, _) = await AskOwnAsync<MessageAccepted>(instanceId,
            id => new ExecuteMessage(id, userInput, requestId, _caller, KeyId: _keyId, Deadline: deadline, Settings: settings,
                TraceParent: trace, Parts: parts),
            cancellationToken);
        span?.SetTag("promptactors.task.id", accepted.TaskId);
        return accepted with { InstanceId = Outward(accepted.InstanceId) };
    }

    /// <summary>The engine's span of one command (null when nobody listens), current for the rest of the call.</summary>
    private System.Diagnostics.Activity? Span(string name, string? instanceId)
    {
        var span = PromptActorsTelemetry.Engine.StartActivity(name, System.Diagnostics.ActivityKind.Internal);
        if (span is null)
            return null;
        if (instanceId is not null)
            span.SetTag("gen_ai.conversation.id", instanceId);
        return span.SetTag(PromptActorsTelemetry.NodeTag, ((ExtendedActorSystem)_system).Provider.DefaultAddress.ToString());
    }

    /// <summary>A message's settings, checked (null when it sets none).</summary>
    private static PromptSettings? CheckOverrides(PromptSettings? settings)
    {
        settings = SettingsOverrides.NullIfEmpty(settings);
        if (settings is not null && SettingsOverrides.Check(settings) is { Count: > 0 } errors)
            throw new ValidationFailedException(string.Join("; ", errors));
        return settings;
    }

    /// <summary>The caller's idempotency key (checked), or a new request id.</summary>
    private static string RequestIdOrNew(string? requestId) => requestId is null
        ? Guid.NewGuid().ToString("N")
        : PromptValidation.IsValidId(requestId)
            ? requestId
            : throw new ValidationFailedException("the request id (idempotency key) must be 1-128 letters, digits, '_', '-' or '.'");

    /// <summary>When an ask sent now stops waiting (and re-sending): later copies of its message are dropped by the instance.</summary>
    private DateTimeOffset Deadline() => _services.Time.GetUtcNow() + _timeout;

    public async Task<InstanceView> GetInstanceAsync(string instanceId, CancellationToken cancellationToken = default) =>
        Outward((await AskOwnAsync<InstanceView>(instanceId, id => new GetInstance(id, _caller), cancellationToken)).Reply);

    public async Task<InstanceView> UpdateVariablesAsync(string instanceId, IReadOnlyDictionary<string, string>? set,
        IReadOnlyList<string>? remove = null, CancellationToken cancellationToken = default) =>
        Outward((await AskOwnAsync<InstanceView>(instanceId, id => new UpdateVariables(id, set, remove, _caller), cancellationToken)).Reply);

    public async Task<CancelResult> CancelAsync(string instanceId, CancellationToken cancellationToken = default)
    {
        var (result, _) = await AskOwnAsync<CancelResult>(instanceId, id => new CancelExecution(id, _caller), cancellationToken);
        return result with { InstanceId = Outward(result.InstanceId) };
    }

    public Task CleanupAsync(string instanceId, CancellationToken cancellationToken = default) =>
        AskOwnAsync<InstanceCleanedUp>(instanceId, id => new CleanupInstance(id, _caller), cancellationToken);

    private static string CheckId(string id) => PromptValidation.IsValidId(id)
        ? id
        : throw new ValidationFailedException("ids must be 1-128 letters, digits, '_', '-' or '.'");

    /// <summary>
    /// Asks the instance, sending the command again when an attempt gets no answer within
    /// <see cref="PromptActorsOptions.AskAttemptTimeout"/> (until <see cref="PromptActorsOptions.AskTimeout"/>): a message
    /// sent to a node that just died, or dropped by sharding during a shard hand-off, is not waited for in vain. Every
    /// command is safe to repeat: reads and variable updates are idempotent, a repeated <see cref="ExecuteMessage"/> carries
    /// the same request id (answered with the first task), and a repeat that finds its own earlier effect
    /// (<c>instance_exists</c> after a start, <c>instance_expired</c> after a clean-up) is read as that effect.
    /// </summary>
    private long _resends;

    /// <summary>Commands sent again because an attempt went unanswered (for tests: they wait on it, not on a clock).</summary>
    internal long Resends => Interlocked.Read(ref _resends);

    /// <summary>
    /// One attempt. In a cluster, when a node is removed while the command is unanswered, the command may have been routed
    /// to that node and lost: a copy is sent 300 ms later (once the region has dropped the dead node's shard homes), and
    /// whichever copy answers first is taken. A late answer of the other copy is released (a reply stream is closed).
    /// </summary>
    private async Task<(object Reply, bool Resent)> AttemptAsync(IInstanceCommand command, TimeSpan wait, CancellationToken cancellationToken)
    {
        var region = await _instances.GetAsync(cancellationToken);
        // A running local instance directly (see InstanceDirectory); the region finds every other one.
        var first = (_node.Instances.TryGet(command.InstanceId, out var local) ? local : region).Ask<object>(command, wait, cancellationToken);
        if (!_clustered || await Task.WhenAny(first, _node.Nodes.NextRemoval) == first)
            return (await first, false);
        if (await Task.WhenAny(first, Task.Delay(ResendAfterRemoval, cancellationToken)) == first)
            return (await first, false);
        cancellationToken.ThrowIfCancellationRequested();
        Interlocked.Increment(ref _resends);
        var second = region.Ask<object>(command, wait, cancellationToken);
        var done = await Task.WhenAny(first, second);
        var other = done == first ? second : first;
        if (done.Status != TaskStatus.RanToCompletion)
            (done, other) = (other, done); // the first to finish failed (timed out): wait for the other copy
        Release(other);
        return (await done, true);
    }

    /// <summary>Observes an answer nobody takes; a reply stream handed out with it is closed so its instance forgets it.</summary>
    private static void Release(Task<object> unused) => unused.ContinueWith(static t =>
    {
        if (t.Status == TaskStatus.RanToCompletion && (t.Result as LocalReplyStream ?? (t.Result as LocalAcceptedStream)?.Stream) is { } stream)
            stream.Events.Writer.TryComplete();
        return t.Exception;
    }, TaskScheduler.Default);

    private async Task<T> AskAsync<T>(IInstanceCommand command, CancellationToken cancellationToken)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (var attempt = 1; ; attempt++)
        {
            var left = _timeout - clock.Elapsed;
            var wait = left < _attemptTimeout ? left : _attemptTimeout;
            object reply;
            try
            {
                if (wait <= TimeSpan.Zero)
                    throw new AskTimeoutException("no time left");
                (reply, var resent) = await AttemptAsync(command, wait, cancellationToken);
                if (resent)
                    attempt++; // an answer to the copy may be our first copy's effect (instance_exists, instance_expired)
            }
            catch (AskTimeoutException)
            {
                if (clock.Elapsed < _timeout - TimeSpan.FromMilliseconds(50))
                {
                    Interlocked.Increment(ref _resends);
                    continue;
                }
                throw new PromptActorsException(ErrorCodes.Timeout, $"instance '{command.InstanceId}' did not answer within {_timeout}");
            }
            switch (reply)
            {
                case T ok:
                    return ok;
                case Rejected { Code: ErrorCodes.InstanceExists } exists when attempt > 1 && command is StartInstance start && typeof(T) == typeof(InstanceView):
                {
                    // Our earlier attempt started it only if it has our scope and prompt; a client-chosen id can also
                    // name another tenant's instance, whose view must not be handed out.
                    InstanceView existing;
                    try
                    {
                        existing = await AskAsync<InstanceView>(new GetInstance(command.InstanceId, start.Scope), cancellationToken);
                    }
                    catch (InstanceNotFoundException)
                    {
                        throw Outward(exists, command.InstanceId).ToException(); // another scope's instance: it stays invisible
                    }
                    if (existing.PromptId == start.PromptId)
                        return (T)(object)existing;
                    throw Outward(exists, command.InstanceId).ToException();
                }
                case Rejected { Code: ErrorCodes.InstanceExpired } when attempt > 1 && command is CleanupInstance:
                    return (T)(object)new InstanceCleanedUp(command.InstanceId);
                case Rejected rejected:
                    throw Outward(rejected, command.InstanceId).ToException();
                default:
                    throw new InvalidOperationException($"unexpected reply {reply.GetType().Name} to {command.GetType().Name}");
            }
        }
    }
}
