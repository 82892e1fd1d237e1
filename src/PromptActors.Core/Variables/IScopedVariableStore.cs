namespace PromptActors.Variables;

/// <summary>Stored user/org/project variables. Implementations: in-memory (tests) and SQL (PromptActors.Persistence).</summary>
public interface IScopedVariableStore
{
    /// <summary>The variables of one scope; empty when it has none.</summary>
    Task<IReadOnlyDictionary<string, string>> GetAsync(ScopeKind kind, string scopeId, CancellationToken cancellationToken = default);

    /// <summary>Replaces the whole map of one scope.</summary>
    Task SetAsync(ScopeKind kind, string scopeId, IReadOnlyDictionary<string, string> values, CancellationToken cancellationToken = default);
}
