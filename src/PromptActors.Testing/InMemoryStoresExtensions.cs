using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using PromptActors.Access;
using PromptActors.Prompts;
using PromptActors.Runs;
using PromptActors.Variables;

namespace PromptActors.Testing;

/// <summary>The in-memory stores for <c>AddPromptActors</c>: nothing survives the process (tests, demos).</summary>
public static class InMemoryStoresExtensions
{
    /// <summary>Registers the in-memory prompt, scoped-variable, run and API-key stores; stores the host registered first are kept.</summary>
    public static IServiceCollection AddPromptActorsInMemoryStores(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IPromptStore>(sp => new InMemoryPromptStore(sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<IScopedVariableStore, InMemoryScopedVariableStore>();
        services.TryAddSingleton<IRunStore, InMemoryRunStore>();
        services.TryAddSingleton<IApiKeyStore, InMemoryApiKeyStore>();
        services.TryAddSingleton<PromptActors.Attachments.IAttachmentStore, InMemoryAttachmentStore>();
        return services;
    }
}
