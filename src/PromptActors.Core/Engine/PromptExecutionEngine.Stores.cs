using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Hosting;
using PromptActors.Instances;
using PromptActors.Prompts;
using PromptActors.Runs;
using PromptActors.Variables;

namespace PromptActors.Engine;

/// <summary>Prompts, scope variables and runs: the embedding API over the stores, with the caller's rules and cache invalidation.</summary>
public sealed partial class PromptExecutionEngine
{
    public Task<Prompt> SavePromptAsync(PromptDefinition definition, CancellationToken cancellationToken = default) =>
        SavePromptAsync(definition, null, cancellationToken);

    public async Task<Prompt> SavePromptAsync(PromptDefinition definition, PromptOwner? owner, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(definition);
        var errors = PromptValidation.Validate(definition).ToList();
        if (errors.Count == 0 && definition.Settings?.ResponseFormat is { Type: ResponseFormat.JsonSchemaType, Schema: { } schema })
        {
            // Checked where a JSON Schema library is at hand: a schema that cannot be applied is refused now, not at reply time.
            if (_services.Schemas is not { } schemas)
                errors.Add("settings.responseFormat json_schema needs a JSON Schema validator (AddPromptActorsModels registers one)");
            else
                errors.AddRange(schemas.CheckSchema(schema).Select(e => "settings.responseFormat.schema: " + e));
        }
        if (errors.Count == 0 && definition.Settings is { } settings
            && SettingsValidation.UnknownTools(settings, _services.Tools ?? _options.Tools) is { Count: > 0 } unknown)
            errors.Add("settings.tools names tools that are not registered: " + string.Join(", ", unknown));
        if (errors.Count > 0)
            throw new ValidationFailedException(string.Join("; ", errors));
        if (definition.Settings is { } given)
            // Plain arrays: every serializer reads them back (a collection expression's own list types are not all readable).
            definition = definition with { Settings = given with { Tools = given.Tools?.ToArray(), Stop = given.Stop?.ToArray(), ClientTools = given.ClientTools?.ToArray() } };
        var into = OwnerForSave(owner);
        var saved = await StoreCall(() => _services.Prompts.SaveAsync(definition, into, cancellationToken));
        Publish(new InvalidatePrompt(saved.Id));
        return saved;
    }

    /// <summary>
    /// Where a save goes: for a caller, the named scope if it is one of its own (its narrowest when none is named; another
    /// scope is "not found", a built-in is forbidden); for the unrestricted engine, the named owner or the built-ins.
    /// </summary>
    private PromptOwner OwnerForSave(PromptOwner? owner)
    {
        if (owner is { IsBuiltIn: false } && !PromptValidation.IsValidId(owner.ScopeId))
            throw new ValidationFailedException("a prompt owner's scope id must be 1-128 letters, digits, '_', '-' or '.'");
        if (_caller is null)
            return owner ?? PromptOwner.BuiltIn;
        owner ??= PromptOwner.DefaultFor(_caller);
        if (owner.IsBuiltIn)
            throw new ForbiddenException("built-in prompts are read-only to callers; save the prompt in one of your scopes");
        if (!owner.BelongsTo(_caller))
            throw new PromptActorsException(ErrorCodes.NotFound, $"{owner.KindName} scope '{owner.ScopeId}' was not found");
        return owner;
    }

    public Task<Prompt?> GetPromptAsync(string promptId, int? version = null, CancellationToken cancellationToken = default)
    {
        if (!PromptValidation.IsValidId(promptId))
            throw new ValidationFailedException("promptId must be 1-128 letters, digits, '_', '-' or '.'");
        if (version is < 1)
            throw new ValidationFailedException("version must be 1 or more");
        // A caller sees the id as its instances would: its project's, org's or user's prompt, else the built-in.
        return _caller is null
            ? StoreCall(() => _services.Prompts.GetAsync(PromptOwner.BuiltIn, promptId, version, cancellationToken))
            : StoreCall(() => _services.Prompts.ResolveAsync(_caller, promptId, version, cancellationToken));
    }

    /// <summary>Most prompts or versions one list returns.</summary>
    public const int MaxPromptList = 1000;

    public Task<IReadOnlyList<Prompt>> ListPromptsAsync(int limit = 100, CancellationToken cancellationToken = default)
    {
        if (limit is < 1 or > MaxPromptList)
            throw new ValidationFailedException($"limit must be 1 to {MaxPromptList}");
        return StoreCall(() => _services.Prompts.ListAsync(_caller, limit, cancellationToken));
    }

    public Task<IReadOnlyList<Prompt>> GetPromptVersionsAsync(string promptId, int limit = 100, CancellationToken cancellationToken = default)
    {
        if (!PromptValidation.IsValidId(promptId))
            throw new ValidationFailedException("promptId must be 1-128 letters, digits, '_', '-' or '.'");
        if (limit is < 1 or > MaxPromptList)
            throw new ValidationFailedException($"limit must be 1 to {MaxPromptList}");
        return StoreCall(() => _services.Prompts.VersionsAsync(_caller, promptId, limit, cancellationToken));
    }

    public async Task SetScopeVariablesAsync(ScopeKind kind, string scopeId, IReadOnlyDictionary<string, string> values,
        CancellationToken cancellationToken = default)
    {
        CheckScope(kind, scopeId);
        var errors = InstanceInput.CheckVariables(values, null, _settings);
        if (errors.Count > 0)
            throw new ValidationFailedException(string.Join("; ", errors));
        await StoreCall(async () =>
        {
            await _services.Variables.SetAsync(kind, scopeId, values, cancellationToken);
            return true;
        });
        Publish(new InvalidateScopedVariables(kind, scopeId));
    }

    public Task<IReadOnlyDictionary<string, string>> GetScopeVariablesAsync(ScopeKind kind, string scopeId,
        CancellationToken cancellationToken = default)
    {
        CheckScope(kind, scopeId);
        return StoreCall(() => _services.Variables.GetAsync(kind, scopeId, cancellationToken));
    }

    /// <summary>A valid scope id that a caller-bound engine may use: its own user, org or project; any other is "not found".</summary>
    private void CheckScope(ScopeKind kind, string scopeId)
    {
        if (!PromptValidation.IsValidId(scopeId))
            throw new ValidationFailedException("scopeId must be 1-128 letters, digits, '_', '-' or '.'");
        if (kind is not (ScopeKind.User or ScopeKind.Org or ScopeKind.Project))
            throw new ValidationFailedException("scope kind must be user, org or project");
        if (_caller is null)
            return;
        var own = kind switch
        {
            ScopeKind.User => _caller.UserId,
            ScopeKind.Org => _caller.OrgId,
            _ => _caller.ProjectId,
        };
        if (own != scopeId)
            throw new PromptActorsException(ErrorCodes.NotFound, $"{kind.ToString().ToLowerInvariant()} scope '{scopeId}' was not found");
    }

    public async Task<RunRecord?> GetRunAsync(string runId, CancellationToken cancellationToken = default)
    {
        CheckId(runId);
        var run = await ReadRunAsync(runId, cancellationToken);
        // Read your own writes: a run whose instance may still owe rows (a reply a moment ago, a task running, a first row
        // not landed yet) is read again once that instance's outbox has written them, waiting at most
        // Instances:RunReadSyncWait. An old, settled run is returned without waking its instance.
        var instanceId = run is null ? RunIds.InstanceOf(runId) : run.Info.InstanceId;
        if (instanceId is null || (run is not null && !MayOweRows(run)))
            return Outward(run);
        // Asked as the run's own scope when the run is known; as this caller otherwise (another scope's instance answers
        // instance_not_found, and the read stays an unknown id).
        if (!await AwaitRunRowsAsync(instanceId, run is null ? _caller : RunScope(run.Info), cancellationToken))
            return Outward(run);
        return Outward(await ReadRunAsync(runId, cancellationToken) ?? run);
    }

    private async Task<RunRecord?> ReadRunAsync(string runId, CancellationToken cancellationToken)
    {
        var run = await StoreCall(() => _services.Runs.GetRunAsync(runId, cancellationToken));
        // Another scope's run is not there for this caller (the same answer as an unknown id).
        return run is null || (_caller is not null && RunScope(run.Info) != _caller) ? null : run;
    }

    private bool MayOweRows(RunRecord run) =>
        run.Tasks.Any(t => !t.IsTerminal) || _services.Time.GetUtcNow() - run.UpdatedAt < _options.Reaper.CompletedTtl;

    /// <summary>True once the instance said its rows are written (or gave up waiting); false when it did not answer.</summary>
    private async Task<bool> AwaitRunRowsAsync(string instanceId, InstanceScope? scope, CancellationToken cancellationToken)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(_options.Instances.RunReadSyncWait + TimeSpan.FromSeconds(1));
        try
        {
            await AskAsync<RunRowsWritten>(new AwaitRunRows(instanceId, scope), bounded.Token);
            return true;
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested && e is OperationCanceledException or PromptActorsException)
        {
            return false; // unknown or foreign instance, its node is gone, the journal is down: the store's view
        }
    }

    public Task<IReadOnlyList<RunRecord>> ListRunsAsync(string userId, int limit = 100, CancellationToken cancellationToken = default)
    {
        if (limit is < 1 or > 1000)
            throw new ValidationFailedException("limit must be between 1 and 1000");
        CheckId(userId);
        if (_caller is null)
            return StoreCall(() => _services.Runs.ListRunsAsync(userId, limit, cancellationToken));
        if (userId != _caller.UserId)
            throw new ForbiddenException("a caller may only list its own runs");
        return ListOwnRunsAsync(limit, cancellationToken);
    }

    private async Task<IReadOnlyList<RunRecord>> ListOwnRunsAsync(int limit, CancellationToken cancellationToken) =>
        (await StoreCall(() => _services.Runs.ListRunsAsync(_caller!, limit, cancellationToken))).Select(r => Outward(r)!).ToList();

    private static InstanceScope RunScope(RunInfo info) => new(info.UserId, info.OrgId, info.ProjectId);

    private void Publish(object invalidation)
    {
        // Every node's cache subscribes to the topic; the local one is told directly too, so this node is never stale.
        DistributedPubSub.Get(_system).Mediator.Tell(new Publish(PromptActorsConfig.InvalidationTopic, invalidation));
        if (invalidation is InvalidatePrompt p)
            TellIfStarted(_promptCache, p);
        else
        {
            if (invalidation is InvalidateScopedVariables v) // instances read it without asking: forget it before the save returns
                _node.ScopedVariables?.Invalidate(new ScopeKey(v.Kind, v.ScopeId));
            TellIfStarted(_scopedVariables, invalidation);
        }
    }

    /// <summary>A cache not started yet holds nothing stale: an invalidation is only for a cache that exists.</summary>
    private static void TellIfStarted<TKey>(IRequiredActor<TKey> cache, object invalidation)
    {
        IActorRef target;
        try
        {
            target = cache.ActorRef;
        }
        catch (MissingActorRegistryEntryException)
        {
            return;
        }
        target.Tell(invalidation);
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
}
