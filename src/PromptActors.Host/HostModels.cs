using PromptActors.Models;

namespace PromptActors.Host;

/// <summary>The model registry of the host, from <c>PromptActors:Models</c> (the built-in <c>local</c> model is always there).</summary>
public static class HostModels
{
    public static IModelRegistry Create(IConfiguration configuration, IServiceProvider services) =>
        ModelRegistryFactory.FromConfiguration(configuration, services.GetRequiredService<TimeProvider>(),
            services.GetService<ILoggerFactory>());
}
