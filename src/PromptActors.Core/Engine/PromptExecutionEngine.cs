using System.Runtime.CompilerServices;
using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Streams.Dsl;
using PromptActors.Instances;
using PromptActors.Prompts;
using PromptActors.Runs;
using PromptActors.Variables;

namespace PromptActors.Engine;

/// <summary>The embedding API over the instance shard region and the node's caches.</summary>
public sealed class PromptExecutionEngine : IPromptExecutionEngine
{
    private readonly ActorSystem _system;
    private readonly PromptActorsRuntime _runtime;
    private readonly TimeSpan _timeout;
    private readonly TimeSpan _attemptTimeout;
    private readonly InstanceSettings _settings;
    private readonly bool _clustered;

    /// <summary>How long after a node's removal an unanswered command is sent again (the region learns of it meanwhile).</summary>
    private static readonly TimeSpan ResendAfterRemoval = TimeSpan.FromMilliseconds(300);

    public PromptExecutionEngine(ActorSystem system, PromptActorsRuntime runtime)
    {
        _system = system;
        _runtime = runtime;
        _timeout = runtime.Options.AskTimeout;
        // One node loses no message between the engine and its instances: only a cluster re-sends.
        _clustered = runtime.Options.Cluster.Enabled;
        _attemptTimeout = _clustered ? runtime.Options.AskAttemptTimeout : runtime.Options.AskTimeout;
        _settings = runtime.InstanceSettings;
    }

    public Task<InstanceView> StartInstanceAsync(StartInstanceRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var command = new StartInstance(request.InstanceId ?? Guid.NewGuid().ToString("N"), request.PromptId, request.Scope,
            request.Variables, request.ExecutionConfig, request.Source, request.RunName, request.Retain, request.PromptVersion, request.Model);
        // Checked here too so a bad request never creates an entity.
        var errors = InstanceInput.CheckStart(command, _settings);
        if (errors.Count > 0)
            throw new ValidationFailedException(string.Join("; ", errors));
        return AskAsync<InstanceView>(command, cancellationToken);
    }

    public Task<MessageAccepted> ExecuteMessageAsync(string instanceId, string? userInput = null, CancellationToken cancellationToken = default) =>
        AskAsync<MessageAccepted>(new ExecuteMessage(CheckId(instanceId), userInput, Guid.NewGuid().ToString("N")), cancellationToken);

    public Task<InstanceView> GetInstanceAsync(string instanceId, CancellationToken cancellationToken = default) =>
        AskAsync<InstanceView>(new GetInstance(CheckId(instanceId)), cancellationToken);

    public Task<InstanceView> UpdateVariablesAsync(string instanceId, IReadOnlyDictionary<string, string>? set,
        IReadOnlyList<string>? remove = null, CancellationToken cancellationToken = default) =>
        AskAsync<InstanceView>(new UpdateVariables(CheckId(instanceId), set, remove), cancellationToken);

    public Task<CancelResult> CancelAsync(string instanceId, CancellationToken cancellationToken = default) =>
        AskAsync<CancelResult>(new CancelExecution(CheckId(instanceId)), cancellationToken);

    public Task CleanupAsync(string instanceId, CancellationToken cancellationToken = default) =>
        AskAsync<InstanceCleanedUp>(new CleanupInstance(CheckId(instanceId)), cancellationToken);

    public IAsyncEnumerable<ReplyEvent> StreamAsync(string instanceId, long fromIndex = 0, CancellationToken cancellationToken = default) =>
        SubscribeAsync(new SubscribeReplyStream(CheckId(instanceId), fromIndex), cancellationToken);

    public IAsyncEnumerable<ReplyEvent> ResumeStreamAsync(string instanceId, string afterTaskId, long afterIndex,
        CancellationToken cancellationToken = default) =>
        SubscribeAsync(new SubscribeReplyStream(CheckId(instanceId), afterIndex < long.MaxValue ? afterIndex + 1 : afterIndex,
            CheckId(afterTaskId)), cancellationToken);

    private async IAsyncEnumerable<ReplyEvent> SubscribeAsync(SubscribeReplyStream subscribe,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var instanceId = subscribe.InstanceId;
        var reply = await AskAsync<object>(subscribe, cancellationToken);
        if (reply is Rejected rejected)
            throw rejected.ToException();
        if (reply is LocalReplyStream local)
        {
            await foreach (var e in ReadLocalAsync(local, cancellationToken))
                yield return e;
            yield break;
        }
        var offer = (ReplyStreamOffer)reply;
        var taskId = offer.TaskId ?? "";
        // A stream ref does not notice on its own that the node at its other end crashed (it would wait forever): when the
        // instance lives on another node, the stream also ends once the cluster has downed or removed that node.
        var nodeGone = _runtime.Nodes.WhenGone(offer.Node);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var events = offer.Stream.Source.RunAsAsyncEnumerable(_runtime.Materializer).GetAsyncEnumerator(stop.Token);
        try
        {
            while (true)
            {
                ReplyEvent? e = null;
                try
                {
                    var next = events.MoveNextAsync();
                    bool more;
                    if (next.IsCompleted || nodeGone is null)
                        more = await next;
                    else
                    {
                        var pending = next.AsTask();
                        if (await Task.WhenAny(pending, nodeGone) == pending)
                            more = await pending;
                        else
                        {
                            stop.Cancel();
                            _ = pending.ContinueWith(t => t.Exception, TaskScheduler.Default); // observed, never awaited
                            e = new ReplyFailed(taskId, ErrorCodes.Interrupted,
                                $"the node hosting instance '{instanceId}' ({offer.Node}) left the cluster before the task ended; " +
                                "the task is marked interrupted when the instance recovers on another node", "");
                            more = true;
                        }
                    }
                    if (!more)
                        yield break;
                    e ??= events.Current;
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // The node holding the instance went away (or the stream broke): say so instead of hanging.
                    e = new ReplyFailed(taskId, ErrorCodes.Interrupted, "the reply stream ended before the task did: " + ex.Message, "");
                }
                taskId = e.TaskId;
                yield return e;
                if (e is ReplyCompleted or ReplyFailed)
                    yield break;
            }
        }
        finally
        {
            try
            {
                await events.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None);
            }
            catch (Exception)
            {
                // the stream is torn down anyway; a failing or slow dispose must not hold the caller
            }
        }
    }

    /// <summary>Reads a same-node subscription; a dropped subscriber or a stopped instance ends with an error event.</summary>
    private static async IAsyncEnumerable<ReplyEvent> ReadLocalAsync(LocalReplyStream local,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var taskId = local.TaskId ?? "";
        var reader = local.Events.Reader;
        try
        {
            while (true)
            {
                ReplyEvent e;
                try
                {
                    if (!await reader.WaitToReadAsync(cancellationToken) || !reader.TryRead(out e!))
                        e = new ReplyFailed(taskId, ErrorCodes.Interrupted, "the reply stream ended before the task did", "");
                }
                catch (Exception ex) when (ex.GetBaseException() is Streaming.SubscriberTooSlowException slow)
                {
                    e = new ReplyFailed(slow.TaskId, Streaming.ReplyFanOut.TooSlowCode, slow.Message, "");
                }
                taskId = e.TaskId;
                yield return e;
                if (e is ReplyCompleted or ReplyFailed)
                    yield break;
            }
        }
        finally
        {
            local.Events.Writer.TryComplete(); // the instance drops this subscriber at its next write
        }
    }

    public async Task<ReplyEvent> WaitForReplyAsync(string instanceId, CancellationToken cancellationToken = default)
    {
        await foreach (var e in StreamAsync(instanceId, long.MaxValue, cancellationToken))
        {
            if (e is ReplyCompleted or ReplyFailed)
                return e;
        }
        throw new PromptActorsException(ErrorCodes.Interrupted, $"the reply stream of instance '{instanceId}' ended without an outcome");
    }

    public async Task<Prompt> SavePromptAsync(PromptDefinition definition, CancellationToken cancellationToken = default)
    {
        var errors = PromptValidation.Validate(definition);
        if (errors.Count > 0)
            throw new ValidationFailedException(string.Join("; ", errors));
        var saved = await StoreCall(() => _runtime.Services.Prompts.SaveAsync(definition, cancellationToken));
        Publish(new InvalidatePrompt(saved.Id));
        return saved;
    }

    public Task<Prompt?> GetPromptAsync(string promptId, int? version = null, CancellationToken cancellationToken = default)
    {
        if (!PromptValidation.IsValidId(promptId))
            throw new ValidationFailedException("promptId must be 1-128 letters, digits, '_', '-' or '.'");
        return StoreCall(() => _runtime.Services.Prompts.GetAsync(promptId, version, cancellationToken));
    }

    public async Task SetScopeVariablesAsync(ScopeKind kind, string scopeId, IReadOnlyDictionary<string, string> values,
        CancellationToken cancellationToken = default)
    {
        if (!PromptValidation.IsValidId(scopeId))
            throw new ValidationFailedException("scopeId must be 1-128 letters, digits, '_', '-' or '.'");
        var errors = InstanceInput.CheckVariables(values, null, _settings);
        if (errors.Count > 0)
            throw new ValidationFailedException(string.Join("; ", errors));
        await StoreCall(async () =>
        {
            await _runtime.Services.Variables.SetAsync(kind, scopeId, values, cancellationToken);
            return true;
        });
        Publish(new InvalidateScopedVariables(kind, scopeId));
    }

    public Task<IReadOnlyDictionary<string, string>> GetScopeVariablesAsync(ScopeKind kind, string scopeId,
        CancellationToken cancellationToken = default)
    {
        if (!PromptValidation.IsValidId(scopeId))
            throw new ValidationFailedException("scopeId must be 1-128 letters, digits, '_', '-' or '.'");
        return StoreCall(() => _runtime.Services.Variables.GetAsync(kind, scopeId, cancellationToken));
    }

    public Task<RunRecord?> GetRunAsync(string runId, CancellationToken cancellationToken = default) =>
        StoreCall(() => _runtime.Services.Runs.GetRunAsync(CheckId(runId), cancellationToken));

    public Task<IReadOnlyList<RunRecord>> ListRunsAsync(string userId, int limit = 100, CancellationToken cancellationToken = default)
    {
        if (limit is < 1 or > 1000)
            throw new ValidationFailedException("limit must be between 1 and 1000");
        return StoreCall(() => _runtime.Services.Runs.ListRunsAsync(CheckId(userId), limit, cancellationToken));
    }

    private void Publish(object invalidation)
    {
        // Every node's cache subscribes to the topic; the local one is told directly too, so this node is never stale.
        DistributedPubSub.Get(_system).Mediator.Tell(new Publish(PromptActorsConfig.InvalidationTopic, invalidation));
        if (invalidation is InvalidatePrompt p)
            _runtime.PromptCache.Tell(p);
        else
            _runtime.ScopedVariables.Tell(invalidation);
    }

    private static async Task<T> StoreCall<T>(Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (PromptActorsException)
        {
            throw;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw new StoreUnavailableException("the store is unavailable: " + ex.GetBaseException().Message, ex);
        }
    }

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
        var first = _runtime.InstanceRegion.Ask<object>(command, wait, cancellationToken);
        if (!_clustered || await Task.WhenAny(first, _runtime.Nodes.NextRemoval) == first)
            return (await first, false);
        if (await Task.WhenAny(first, Task.Delay(ResendAfterRemoval, cancellationToken)) == first)
            return (await first, false);
        cancellationToken.ThrowIfCancellationRequested();
        Interlocked.Increment(ref _resends);
        var second = _runtime.InstanceRegion.Ask<object>(command, wait, cancellationToken);
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
        if (t.Status == TaskStatus.RanToCompletion && t.Result is LocalReplyStream stream)
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
                    var existing = await AskAsync<InstanceView>(new GetInstance(command.InstanceId), cancellationToken);
                    if (existing.Scope == start.Scope && existing.PromptId == start.PromptId)
                        return (T)(object)existing;
                    throw exists.ToException();
                }
                case Rejected { Code: ErrorCodes.InstanceExpired } when attempt > 1 && command is CleanupInstance:
                    return (T)(object)new InstanceCleanedUp(command.InstanceId);
                case Rejected rejected:
                    throw rejected.ToException();
                default:
                    throw new InvalidOperationException($"unexpected reply {reply.GetType().Name} to {command.GetType().Name}");
            }
        }
    }
}
