namespace PromptActors.Variables;

/// <summary>Ask the node's scoped-variable cache for the user, org and project maps of a scope.</summary>
public sealed record GetScopedVariables(InstanceScope Scope) : IPromptActorsMessage;

/// <summary>Reply to <see cref="GetScopedVariables"/>. Maps are empty for absent scope levels.</summary>
public sealed record ScopedVariableValues(
    IReadOnlyDictionary<string, string> User,
    IReadOnlyDictionary<string, string> Org,
    IReadOnlyDictionary<string, string> Project) : IPromptActorsMessage
{
    public static readonly ScopedVariableValues Empty = new(
        new Dictionary<string, string>(), new Dictionary<string, string>(), new Dictionary<string, string>());
}

/// <summary>Reply to <see cref="GetScopedVariables"/> when the store failed; nothing was cached.</summary>
public sealed record ScopedVariablesUnavailable(string Reason) : IPromptActorsMessage;

/// <summary>Drops one cached scope map (sent after a write, on every node).</summary>
public sealed record InvalidateScopedVariables(ScopeKind Kind, string ScopeId) : IPromptActorsMessage;
