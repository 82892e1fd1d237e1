using Microsoft.Extensions.AI;

namespace PromptActors.Models;

/// <summary>Prices in the model's currency per one million tokens.</summary>
public sealed record ModelPricing(decimal InputPerMillion = 0m, decimal OutputPerMillion = 0m, decimal CachedInputPerMillion = 0m)
{
    public static readonly ModelPricing Free = new();
}

/// <summary>A model id bound to the chat client that serves it and its prices.</summary>
public sealed record ModelEntry(string Id, string Provider, IChatClient Client, ModelPricing Pricing);

/// <summary>Chooses the chat client for a prompt's model id.</summary>
public interface IModelRegistry
{
    /// <summary>The id used when a prompt names no model.</summary>
    string DefaultModelId { get; }

    bool TryGet(string modelId, out ModelEntry entry);

    IReadOnlyCollection<string> ModelIds { get; }
}

/// <summary>A fixed registry built at start-up.</summary>
public sealed class ModelRegistry : IModelRegistry
{
    private readonly Dictionary<string, ModelEntry> _models;

    public ModelRegistry(IEnumerable<ModelEntry> models, string defaultModelId = LocalChatClient.ModelId)
    {
        _models = models.ToDictionary(m => m.Id, StringComparer.Ordinal);
        if (!_models.ContainsKey(defaultModelId))
            throw new ArgumentException($"The default model '{defaultModelId}' is not registered.", nameof(defaultModelId));
        DefaultModelId = defaultModelId;
    }

    /// <summary>A registry holding only the built-in <c>local</c> model.</summary>
    public static ModelRegistry LocalOnly(LocalModelOptions? options = null, TimeProvider? time = null) =>
        new([new ModelEntry(LocalChatClient.ModelId, "local", new LocalChatClient(options, time), ModelPricing.Free)]);

    public string DefaultModelId { get; }

    public IReadOnlyCollection<string> ModelIds => _models.Keys;

    public bool TryGet(string modelId, out ModelEntry entry) => _models.TryGetValue(modelId, out entry!);
}
