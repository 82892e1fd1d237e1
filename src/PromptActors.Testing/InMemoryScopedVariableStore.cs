using PromptActors.Variables;

namespace PromptActors.Testing;

/// <summary>A thread-safe in-memory <see cref="IScopedVariableStore"/> for tests and demos. Counts loads per scope.</summary>
public sealed class InMemoryScopedVariableStore : IScopedVariableStore
{
    private readonly Lock _gate = new();
    private readonly Dictionary<ScopeKey, IReadOnlyDictionary<string, string>> _maps = new();
    private readonly Dictionary<ScopeKey, int> _loads = new();

    /// <summary>When set, each load awaits this before answering.</summary>
    public Func<Task>? BeforeLoad { get; set; }

    /// <summary>When set, each load throws this exception.</summary>
    public Exception? FailLoadsWith { get; set; }

    /// <summary>
    /// When set, each load awaits this after it has read the store and before it answers, so a test can hold an answer
    /// that a write makes stale in the meantime.
    /// </summary>
    public Func<Task>? AfterRead { get; set; }

    public int LoadCount(ScopeKind kind, string scopeId)
    {
        lock (_gate)
            return _loads.GetValueOrDefault(new ScopeKey(kind, scopeId));
    }

    public async Task<IReadOnlyDictionary<string, string>> GetAsync(ScopeKind kind, string scopeId, CancellationToken cancellationToken = default)
    {
        var key = new ScopeKey(kind, scopeId);
        lock (_gate)
            _loads[key] = _loads.GetValueOrDefault(key) + 1;
        if (BeforeLoad is { } before)
            await before();
        else
            await Task.Yield();
        if (FailLoadsWith is { } failure)
            throw failure;
        IReadOnlyDictionary<string, string> found;
        lock (_gate)
            found = _maps.TryGetValue(key, out var map) ? map : new Dictionary<string, string>();
        if (AfterRead is { } after)
            await after();
        return found;
    }

    public Task SetAsync(ScopeKind kind, string scopeId, IReadOnlyDictionary<string, string> values, CancellationToken cancellationToken = default)
    {
        var errors = values.Keys.Where(k => !VariableNames.IsValid(k)).ToList();
        if (errors.Count > 0)
            throw new ValidationFailedException("invalid variable names: " + string.Join(", ", errors));
        lock (_gate)
            _maps[new ScopeKey(kind, scopeId)] = new Dictionary<string, string>(values, StringComparer.Ordinal);
        return Task.CompletedTask;
    }
}
