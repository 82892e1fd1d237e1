using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace PromptActors.Models;

/// <summary>The built-in <c>local</c> model and the OpenAI-compatible providers, for <c>AddPromptActors</c>.</summary>
public static class PromptActorsModelsExtensions
{
    /// <summary>
    /// Registers the engine's <see cref="IModelRegistry"/> and its JSON Schema validator (<see cref="JsonSchemaValidator"/>): the models of <c>PromptActors:Models</c> in
    /// <paramref name="configuration"/> (the built-in <c>local</c> model is always there), or only <c>local</c> when no
    /// configuration is given. A registry the host registered first is kept. A bad model setting stops the start with every
    /// problem listed (<see cref="ModelConfigurationException"/>).
    /// </summary>
    public static IServiceCollection AddPromptActorsModels(this IServiceCollection services, IConfiguration? configuration = null)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<Prompts.IJsonSchemaValidator, JsonSchemaValidator>();
        services.TryAddSingleton<IModelRegistry>(sp => configuration is null
            ? LocalOnly(time: sp.GetRequiredService<TimeProvider>())
            : ModelRegistryFactory.FromConfiguration(configuration, sp.GetRequiredService<TimeProvider>(), sp.GetService<ILoggerFactory>()));
        return services;
    }

    /// <summary>A registry holding only the built-in <c>local</c> model.</summary>
    public static ModelRegistry LocalOnly(LocalModelOptions? options = null, TimeProvider? time = null) =>
        new([new ModelEntry(LocalChatClient.ModelId, ModelProviders.Local, new LocalChatClient(options, time), ModelPricing.Free,
            TokenCounter.O200k)]);
}
