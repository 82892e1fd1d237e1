using PromptActors.Prompts;

namespace PromptActors.Testing;

/// <summary>A thread-safe in-memory <see cref="IPromptStore"/> for tests and demos. Counts loads so tests can assert caching.</summary>
public sealed class InMemoryPromptStore(TimeProvider? time = null) : IPromptStore
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly Lock _gate = new();
    private readonly Dictionary<(PromptOwner Owner, string Id), List<Prompt>> _prompts = new();
    private int _loads;

    /// <summary>How many times <see cref="GetAsync"/> was called.</summary>
    public int LoadCount => Volatile.Read(ref _loads);

    /// <summary>When set, each load awaits this (to hold many callers in flight) before answering.</summary>
    public Func<Task>? BeforeLoad { get; set; }

    /// <summary>When set, each load throws this exception once it starts.</summary>
    public Exception? FailLoadsWith { get; set; }

    /// <summary>
    /// When set, each load awaits this after it has read the store and before it answers, so a test can hold an answer
    /// that a save makes stale in the meantime.
    /// </summary>
    public Func<Task>? AfterRead { get; set; }

    public Task<Prompt?> GetAsync(string id, int? version, CancellationToken cancellationToken = default) =>
        GetAsync(PromptOwner.BuiltIn, id, version, cancellationToken);

    public Task<Prompt> SaveAsync(PromptDefinition definition, CancellationToken cancellationToken = default) =>
        SaveAsync(definition, PromptOwner.BuiltIn, cancellationToken);

    public Task<Prompt?> GetAsync(PromptOwner owner, string id, int? version, CancellationToken cancellationToken = default) =>
        LoadAsync([owner], id, version);

    public Task<Prompt?> ResolveAsync(Variables.InstanceScope scope, string id, int? version, CancellationToken cancellationToken = default) =>
        LoadAsync(PromptOwner.ResolutionOrder(scope), id, version);

    private async Task<Prompt?> LoadAsync(IReadOnlyList<PromptOwner> owners, string id, int? version)
    {
        Interlocked.Increment(ref _loads);
        if (BeforeLoad is { } before)
            await before();
        else
            await Task.Yield();
        if (FailLoadsWith is { } failure)
            throw failure;
        Prompt? found;
        lock (_gate)
        {
            found = null;
            foreach (var owner in owners)
            {
                if (!_prompts.TryGetValue((owner, id), out var versions) || versions.Count == 0)
                    continue;
                found = version is null ? versions[^1] : versions.FirstOrDefault(p => p.Version == version);
                break; // the first owner that has the id decides
            }
        }
        if (AfterRead is { } after)
            await after();
        return found;
    }

    public Task<IReadOnlyList<Prompt>> ListAsync(Variables.InstanceScope? scope, int limit, CancellationToken cancellationToken = default)
    {
        var owners = scope is null ? [PromptOwner.BuiltIn] : PromptOwner.ResolutionOrder(scope);
        lock (_gate)
        {
            // Per id, the latest version of the first owner (in resolution order) that has it.
            IReadOnlyList<Prompt> latest = _prompts
                .Where(kv => kv.Value.Count > 0 && owners.Contains(kv.Key.Owner))
                .GroupBy(kv => kv.Key.Id, StringComparer.Ordinal)
                .Select(g => g.OrderBy(kv => IndexOf(owners, kv.Key.Owner)).First().Value[^1])
                .OrderBy(p => p.Id, StringComparer.Ordinal)
                .Take(Math.Max(0, limit))
                .ToArray();
            return Task.FromResult(latest);
        }
    }

    public Task<IReadOnlyList<Prompt>> VersionsAsync(Variables.InstanceScope? scope, string id, int limit,
        CancellationToken cancellationToken = default)
    {
        var owners = scope is null ? [PromptOwner.BuiltIn] : PromptOwner.ResolutionOrder(scope);
        lock (_gate)
        {
            foreach (var owner in owners)
            {
                if (_prompts.TryGetValue((owner, id), out var versions) && versions.Count > 0)
                    return Task.FromResult<IReadOnlyList<Prompt>>(versions.AsEnumerable().Reverse().Take(Math.Max(0, limit)).ToArray());
            }
        }
        return Task.FromResult<IReadOnlyList<Prompt>>([]);
    }

    private static int IndexOf(IReadOnlyList<PromptOwner> owners, PromptOwner owner)
    {
        for (var i = 0; i < owners.Count; i++)
        {
            if (owners[i] == owner)
                return i;
        }
        return int.MaxValue;
    }

    public Task<Prompt> SaveAsync(PromptDefinition definition, PromptOwner owner, CancellationToken cancellationToken = default)
    {
        var errors = PromptValidation.Validate(definition);
        if (errors.Count > 0)
            throw new ValidationFailedException(string.Join("; ", errors));
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            if (!_prompts.TryGetValue((owner, definition.Id), out var versions))
                _prompts[(owner, definition.Id)] = versions = new List<Prompt>();
            var created = versions.Count > 0 ? versions[0].CreatedAt : now;
            var prompt = new Prompt(definition.Id, versions.Count + 1, definition.Name, definition.Description,
                definition.Messages.ToArray(), (definition.VariableDefaults ?? []).ToArray(),
                definition.Settings ?? PromptSettings.Default, definition.MissingVariables, created, now, owner);
            versions.Add(prompt);
            return Task.FromResult(prompt);
        }
    }
}
