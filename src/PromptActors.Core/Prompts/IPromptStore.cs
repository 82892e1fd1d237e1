namespace PromptActors.Prompts;

/// <summary>Where prompts live. Implementations: <see cref="Testing.InMemoryPromptStore"/>, the SQL store in PromptActors.Persistence.</summary>
public interface IPromptStore
{
    /// <summary>The prompt at <paramref name="version"/>, or its latest version when null; null when there is none.</summary>
    Task<Prompt?> GetAsync(string id, int? version, CancellationToken cancellationToken = default);

    /// <summary>Saves a new version (1 for a new id, previous + 1 otherwise) and returns it.</summary>
    Task<Prompt> SaveAsync(PromptDefinition definition, CancellationToken cancellationToken = default);
}
