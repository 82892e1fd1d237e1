using Microsoft.Extensions.AI;

namespace PromptActors.Models;

/// <summary>Prices in the model's currency per one million tokens.</summary>
public sealed record ModelPricing(decimal InputPerMillion = 0m, decimal OutputPerMillion = 0m, decimal CachedInputPerMillion = 0m)
{
    public static readonly ModelPricing Free = new();
}

/// <summary>
/// A model id bound to the chat client that serves it and its prices. <paramref name="Tokens"/> counts text for the usage
/// estimate when the provider reports no usage (PromptActors.Models gives its models the o200k tokenizer); without one
/// the estimate is about four characters a token. Either way the estimate is flagged <see cref="TokenUsage.Estimated"/>.
/// </summary>
public sealed record ModelEntry(string Id, string Provider, IChatClient Client, ModelPricing Pricing, ITokenCounter? Tokens = null);

/// <summary>Counts the tokens of a text the way a model's tokenizer would.</summary>
public interface ITokenCounter
{
    int Count(string text);
}

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

    /// <summary>The models; the default is <paramref name="defaultModelId"/>, or the first model when it is null.</summary>
    public ModelRegistry(IEnumerable<ModelEntry> models, string? defaultModelId = null)
    {
        var list = models.ToList();
        if (list.Count == 0)
            throw new ArgumentException("A model registry needs at least one model.", nameof(models));
        _models = list.ToDictionary(m => m.Id, StringComparer.Ordinal);
        defaultModelId ??= list[0].Id;
        if (!_models.ContainsKey(defaultModelId))
            throw new ArgumentException($"The default model '{defaultModelId}' is not registered.", nameof(defaultModelId));
        DefaultModelId = defaultModelId;
    }

    public string DefaultModelId { get; }

    public IReadOnlyCollection<string> ModelIds => _models.Keys;

    public bool TryGet(string modelId, out ModelEntry entry) => _models.TryGetValue(modelId, out entry!);
}
