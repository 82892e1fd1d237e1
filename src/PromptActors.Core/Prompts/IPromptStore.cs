using PromptActors.Variables;

namespace PromptActors.Prompts;

/// <summary>
/// Where prompts live, each in the scope of its <see cref="PromptOwner"/>. Implementations:
/// the in-memory store of PromptActors.Testing, the SQL store in PromptActors.Persistence.
/// </summary>
public interface IPromptStore
{
    /// <summary>The owner's prompt at <paramref name="version"/>, or its latest version when null; null when there is none.</summary>
    Task<Prompt?> GetAsync(PromptOwner owner, string id, int? version, CancellationToken cancellationToken = default);

    /// <summary>
    /// The prompt a caller in <paramref name="scope"/> means by <paramref name="id"/>: the first owner of
    /// <see cref="PromptOwner.ResolutionOrder"/> that has the id decides, then <paramref name="version"/> (or its latest)
    /// is read from that owner only. Null when no owner in the order has the id (or the deciding one lacks the version).
    /// </summary>
    Task<Prompt?> ResolveAsync(InstanceScope scope, string id, int? version, CancellationToken cancellationToken = default);

    /// <summary>
    /// The latest version of every prompt a caller in <paramref name="scope"/> sees (null: the built-ins only), ordered by
    /// id, at most <paramref name="limit"/>: for an id that several owners of <see cref="PromptOwner.ResolutionOrder"/>
    /// have, the first one's, as <see cref="ResolveAsync"/> resolves it.
    /// </summary>
    Task<IReadOnlyList<Prompt>> ListAsync(InstanceScope? scope, int limit, CancellationToken cancellationToken = default);

    /// <summary>
    /// Every version of the prompt <paramref name="id"/> resolves to for <paramref name="scope"/> (null: the built-in),
    /// newest first, at most <paramref name="limit"/>; empty when the caller sees no such prompt.
    /// </summary>
    Task<IReadOnlyList<Prompt>> VersionsAsync(InstanceScope? scope, string id, int limit, CancellationToken cancellationToken = default);

    /// <summary>Saves a new version in the owner's scope (1 for an id new there, previous + 1 otherwise) and returns it.</summary>
    Task<Prompt> SaveAsync(PromptDefinition definition, PromptOwner owner, CancellationToken cancellationToken = default);

    /// <summary>A built-in prompt (see <see cref="GetAsync(PromptOwner, string, int?, CancellationToken)"/>).</summary>
    Task<Prompt?> GetAsync(string id, int? version, CancellationToken cancellationToken = default) =>
        GetAsync(PromptOwner.BuiltIn, id, version, cancellationToken);

    /// <summary>Saves a built-in prompt.</summary>
    Task<Prompt> SaveAsync(PromptDefinition definition, CancellationToken cancellationToken = default) =>
        SaveAsync(definition, PromptOwner.BuiltIn, cancellationToken);
}
