using Akka.Hosting;
using Akka.Persistence.Sql;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using PromptActors.Engine;
using PromptActors.Hosting;
using PromptActors.Prompts;
using PromptActors.Runs;
using PromptActors.Variables;

namespace PromptActors.Persistence.Hosting;

/// <summary>Registers the SQL storage (SQLite by default, PostgreSQL when configured) for a host running the engine.</summary>
public static class PromptActorsStorageHostingExtensions
{
    /// <summary>
    /// The whole engine on SQL storage in one call: <see cref="AddPromptActorsStorage(IServiceCollection, IConfiguration)"/>
    /// (bound from <c>PromptActors:Storage</c>; a SQLite file under <c>data/</c> when nothing is set) plus
    /// <see cref="PromptActorsHostingExtensions.AddPromptActors"/> with the journal and snapshot store on that database.
    /// </summary>
    public static IServiceCollection AddPromptActorsWithStorage(
        this IServiceCollection services,
        IConfiguration configuration,
        Action<PromptActorsOptions>? configure = null,
        Action<AkkaConfigurationBuilder, IServiceProvider>? configureAkka = null,
        string actorSystemName = "prompt-actors")
    {
        services.AddPromptActorsStorage(configuration);
        return services.AddPromptActors(configure, (builder, sp) =>
        {
            builder.WithPromptActorsStorage(sp);
            configureAkka?.Invoke(builder, sp);
        }, actorSystemName);
    }

    /// <summary>Storage options bound from the <c>PromptActors:Storage</c> section (Provider, ConnectionString).</summary>
    public static IServiceCollection AddPromptActorsStorage(this IServiceCollection services, IConfiguration configuration) =>
        services.AddPromptActorsStorage(options => configuration.GetSection(StorageOptions.Section).Bind(options));

    /// <summary>
    /// Registers <see cref="PromptActorsStorage"/>, the SQL <see cref="IPromptStore"/>, <see cref="IScopedVariableStore"/> and
    /// <see cref="IRunStore"/> (replacing in-memory ones, whatever the call order), and a start-up step that checks the
    /// database and applies migrations before any hosted service starts, so before the actor system. Pair it with
    /// <see cref="WithPromptActorsStorage"/> in the Akka configuration (or use <see cref="AddPromptActorsWithStorage"/>).
    /// </summary>
    public static IServiceCollection AddPromptActorsStorage(this IServiceCollection services, Action<StorageOptions>? configure = null)
    {
        var options = services.AddOptions<StorageOptions>();
        if (configure is not null)
            options.Configure(configure);
        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<StorageOptions>, StorageOptionsValidator>());

        services.TryAddSingleton(sp => PromptActorsStorage.Create(
            sp.GetRequiredService<IOptions<StorageOptions>>().Value,
            sp.GetService<ILoggerFactory>(),
            sp.GetService<TimeProvider>()));
        services.RemoveAll<IPromptStore>();
        services.RemoveAll<IScopedVariableStore>();
        services.RemoveAll<IRunStore>();
        services.RemoveAll<PromptActors.Access.IApiKeyStore>();
        services.RemoveAll<PromptActors.Attachments.IAttachmentStore>();
        services.AddSingleton(sp => sp.GetRequiredService<PromptActorsStorage>().Prompts);
        services.AddSingleton(sp => sp.GetRequiredService<PromptActorsStorage>().Variables);
        services.AddSingleton(sp => sp.GetRequiredService<PromptActorsStorage>().Runs);
        services.AddSingleton(sp => sp.GetRequiredService<PromptActorsStorage>().ApiKeys);
        services.AddSingleton(sp => sp.GetRequiredService<PromptActorsStorage>().Attachments);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, StorageStartupService>());
        return services;
    }

    /// <summary>Puts the journal and snapshot store on the registered <see cref="PromptActorsStorage"/>'s database.</summary>
    public static AkkaConfigurationBuilder WithPromptActorsStorage(this AkkaConfigurationBuilder builder, IServiceProvider sp)
    {
        var storage = sp.GetRequiredService<PromptActorsStorage>();
        // Above the engine's base configuration (which selects the in-memory plugins), with the plugin's defaults below all.
        builder.AddHocon(storage.PersistenceConfig(), HoconAddMode.Prepend);
        builder.AddHocon(SqlPersistence.DefaultConfiguration, HoconAddMode.Append);
        return builder;
    }

    private sealed class StorageOptionsValidator : IValidateOptions<StorageOptions>
    {
        public ValidateOptionsResult Validate(string? name, StorageOptions options)
        {
            var errors = options.Validate();
            return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
        }
    }
}

/// <summary>
/// Checks the database and migrates it in <see cref="IHostedLifecycleService.StartingAsync"/>, which the host runs for every
/// hosted service before any <c>StartAsync</c>: the actor system (started in Akka.Hosting's StartAsync) never sees an
/// unmigrated or unreachable database. A failure stops the host with a message naming the setting.
/// </summary>
internal sealed class StorageStartupService(PromptActorsStorage storage, IServiceProvider services) : IHostedLifecycleService
{
    public Task StartingAsync(CancellationToken cancellationToken)
    {
        // A cluster's nodes share one journal and one run store: a SQLite file belongs to one node.
        var engine = services.GetService<IOptions<PromptActorsOptions>>()?.Value;
        if (engine?.Cluster.Enabled == true && storage.Provider != StorageOptions.Postgres)
            throw new StorageStartupException(
                $"{StorageOptions.ProviderKey} is '{storage.Provider}', but {PromptActorsOptions.Section}:Cluster:Enabled is true: " +
                $"the nodes of a cluster share one database, and a SQLite file belongs to one node. Set {StorageOptions.ProviderKey}=" +
                $"{StorageOptions.Postgres} and {StorageOptions.ConnectionStringKey} (the same PostgreSQL database on every node).");
        return storage.InitializeAsync(cancellationToken);
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
