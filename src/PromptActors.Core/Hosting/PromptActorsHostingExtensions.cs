using Akka.Cluster.Hosting;
using Akka.Hosting;
using Akka.Remote.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using PromptActors.Engine;
using PromptActors.Models;
using PromptActors.Prompts;
using PromptActors.Runs;
using PromptActors.Testing;
using PromptActors.Variables;

namespace PromptActors.Hosting;

/// <summary>Set once the actor system has started the engine; <see cref="IPromptExecutionEngine"/> resolves through it.</summary>
public sealed class PromptActorsRuntimeHolder
{
    private PromptActorsRuntime? _runtime;

    public PromptActorsRuntime Runtime =>
        _runtime ?? throw new InvalidOperationException("PromptActors has not started yet: start the host before using the engine.");

    internal void Set(PromptActorsRuntime runtime) => _runtime = runtime;
}

/// <summary>One-call registration of the engine over Akka.Hosting.</summary>
public static class PromptActorsHostingExtensions
{
    /// <summary>
    /// Registers the engine: options (validated at start-up), default stores (in memory) and the <c>local</c> model unless
    /// the host registered its own <see cref="IPromptStore"/>, <see cref="IScopedVariableStore"/>, <see cref="IRunStore"/>,
    /// <see cref="IModelRegistry"/> or <see cref="TimeProvider"/>, an actor system running the engine, and
    /// <see cref="IPromptExecutionEngine"/>. <paramref name="configureAkka"/> adds to the actor system (persistence, cluster…).
    /// </summary>
    public static IServiceCollection AddPromptActors(
        this IServiceCollection services,
        Action<PromptActorsOptions>? configure = null,
        Action<AkkaConfigurationBuilder, IServiceProvider>? configureAkka = null,
        string actorSystemName = "prompt-actors")
    {
        var options = services.AddOptions<PromptActorsOptions>();
        if (configure is not null)
            options.Configure(configure);
        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<PromptActorsOptions>>(
            new PromptActorsOptionsValidator(actorSystemName)));

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IPromptStore>(sp => new InMemoryPromptStore(sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<IScopedVariableStore, InMemoryScopedVariableStore>();
        services.TryAddSingleton<IRunStore, InMemoryRunStore>();
        services.TryAddSingleton<IModelRegistry>(sp => ModelRegistry.LocalOnly(time: sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<PromptActorsRuntimeHolder>();
        services.TryAddSingleton<IPromptExecutionEngine, DeferredPromptExecutionEngine>();

        services.AddAkka(actorSystemName, (builder, sp) =>
        {
            builder.WithPromptActors(sp);
            configureAkka?.Invoke(builder, sp);
        });
        return services;
    }

    /// <summary>Adds the engine to an actor system configured by the host (for hosts that call <c>AddAkka</c> themselves).</summary>
    public static AkkaConfigurationBuilder WithPromptActors(this AkkaConfigurationBuilder builder, IServiceProvider sp)
    {
        var options = sp.GetRequiredService<IOptions<PromptActorsOptions>>().Value;
        if (sp.GetService<ILoggerFactory>() is { } loggerFactory)
        {
            // Akka's events under each logging class's own category (Akka.Hosting's bridge puts all under one), at the
            // lowest level any configured category asks for; Microsoft.Extensions.Logging filters per category.
            var logging = new MicrosoftLoggingSetup(loggerFactory, sp.GetService<TimeProvider>());
            var levels = sp.GetService<IConfiguration>()?.GetSection("Logging:LogLevel").GetChildren().Select(c => c.Value);
            builder.AddSetup(logging);
            builder.ConfigureLoggers(loggers =>
            {
                loggers.ClearLoggers();
                loggers.AddLogger<MicrosoftLoggingBridge>();
                loggers.LogLevel = logging.AkkaLevel(levels);
            });
        }
        builder.AddHocon(PromptActorsConfig.Default, HoconAddMode.Append);
        if (options.Cluster.Enabled)
        {
            // Many nodes: this node's remoting address and the seed nodes come from PromptActors:Cluster (no self-join).
            var cluster = options.Cluster;
            builder.AddHocon(PromptActorsConfig.ClusterConfig(cluster), HoconAddMode.Prepend);
            builder.WithRemoting(new RemoteOptions
            {
                HostName = cluster.Hostname,
                PublicHostName = string.IsNullOrWhiteSpace(cluster.PublicHostname) ? null : cluster.PublicHostname,
                Port = cluster.Port,
                // Akka.Remote's default frame (128,000 bytes) is smaller than what crosses nodes here: a 256 KiB user
                // message, the view of a long conversation, a long reply. A larger message would be dropped silently.
                MaxFrameSize = PromptActorsConfig.MaxFrameBytes,
                SendBufferSize = PromptActorsConfig.MaxFrameBytes,
                ReceiveBufferSize = PromptActorsConfig.MaxFrameBytes,
            });
            builder.WithClustering(new Akka.Cluster.Hosting.ClusterOptions
            {
                SeedNodes = cluster.SeedNodeList.ToArray(),
                Roles = cluster.Roles.ToArray(),
            });
        }
        else if (options.JoinSelf)
        {
            builder.WithRemoting("127.0.0.1", 0);
            builder.WithClustering();
        }
        builder.WithActors((system, registry, _) =>
        {
            var services = new PromptActorsServices(
                sp.GetRequiredService<IPromptStore>(),
                sp.GetRequiredService<IScopedVariableStore>(),
                sp.GetRequiredService<IRunStore>(),
                sp.GetRequiredService<IModelRegistry>(),
                sp.GetRequiredService<TimeProvider>());
            var runtime = PromptActorsRuntime.Start(system, options, services);
            registry.Register<Instances.ExecutionInstanceActor>(runtime.InstanceRegion);
            registry.Register<PromptCacheActor>(runtime.PromptCache);
            registry.Register<ScopedVariablesActor>(runtime.ScopedVariables);
            registry.Register<Instances.InstanceReaper>(runtime.Reaper);
            sp.GetRequiredService<PromptActorsRuntimeHolder>().Set(runtime);
        });
        return builder;
    }

    private sealed class PromptActorsOptionsValidator(string actorSystemName) : IValidateOptions<PromptActorsOptions>
    {
        public ValidateOptionsResult Validate(string? name, PromptActorsOptions options)
        {
            var errors = options.Validate(actorSystemName);
            return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
        }
    }
}
