using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Hosting;
using Akka.Remote.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using PromptActors.Engine;
using PromptActors.Instances;
using PromptActors.Models;
using PromptActors.Prompts;
using PromptActors.Runs;
using PromptActors.Variables;

namespace PromptActors.Hosting;

/// <summary>One-call registration of the engine over Akka.Hosting.</summary>
public static class PromptActorsHostingExtensions
{
    /// <summary>
    /// Registers the engine: options (validated at start-up), an actor system running the engine, and
    /// <see cref="IPromptExecutionEngine"/>. The engine runs on the <see cref="IPromptStore"/>, <see cref="IScopedVariableStore"/>,
    /// <see cref="IRunStore"/> and <see cref="IModelRegistry"/> registered beside it (PromptActors.Persistence's
    /// <c>AddPromptActorsWithStorage</c>, PromptActors.Testing's <c>AddPromptActorsInMemoryStores</c>, PromptActors.Models'
    /// <c>AddPromptActorsModels</c>, or the host's own); the start fails naming any that is missing. <paramref name="configureAkka"/> adds to the actor system (persistence, cluster…).
    /// </summary>
    public static IServiceCollection AddPromptActors(
        this IServiceCollection services,
        Action<PromptActorsOptions>? configure = null,
        Action<AkkaConfigurationBuilder, IServiceProvider>? configureAkka = null,
        string actorSystemName = "prompt-actors")
    {
        services.AddPromptActorsEngine(configure, actorSystemName);
        services.AddAkka(actorSystemName, (builder, sp) =>
        {
            builder.WithPromptActors(sp);
            configureAkka?.Invoke(builder, sp);
        });
        return services;
    }

    /// <summary>
    /// What <see cref="AddPromptActors"/> registers besides the actor system: the options (validated at start-up) and
    /// <see cref="IPromptExecutionEngine"/>. For a host that calls <c>AddAkka</c> itself and adds
    /// <see cref="WithPromptActors"/> to its builder.
    /// </summary>
    public static IServiceCollection AddPromptActorsEngine(
        this IServiceCollection services,
        Action<PromptActorsOptions>? configure = null,
        string actorSystemName = "prompt-actors")
    {
        var options = services.AddOptions<PromptActorsOptions>();
        if (configure is not null)
            options.Configure(configure);
        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<PromptActorsOptions>>(
            new PromptActorsOptionsValidator(actorSystemName)));

        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<PromptActorsServices>(sp => ServicesFrom(sp, sp.GetRequiredService<IOptions<PromptActorsOptions>>().Value));
        // Resolvable before the actor system has started its actors (hosted services are built first): the engine gets
        // them through IRequiredActor, and a command waits for them.
        services.TryAddSingleton<IPromptExecutionEngine>(sp => new PromptExecutionEngine(
            sp.GetRequiredService<ActorSystem>(),
            sp.GetRequiredService<IOptions<PromptActorsOptions>>().Value,
            sp.GetRequiredService<PromptActorsServices>(),
            sp.GetRequiredService<IRequiredActor<ExecutionInstanceActor>>(),
            sp.GetRequiredService<IRequiredActor<PromptCacheActor>>(),
            sp.GetRequiredService<IRequiredActor<ScopedVariablesActor>>()));
        return services;
    }

    /// <summary>Adds the engine's actors to an actor system configured by the host (for hosts that call <c>AddAkka</c>
    /// themselves, with <see cref="AddPromptActorsEngine"/>).</summary>
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
        // The engine's actors, in start order (Akka.Hosting starts them one after the other once the system is up).
        builder.WithActors((system, registry, _) =>
        {
            PromptActorsComposition.Validate(options, system.Name);
            var (prompts, variables, reaper) = PromptActorsComposition.StartSupport(system, options, Services(sp, options));
            registry.Register<PromptCacheActor>(prompts);
            registry.Register<ScopedVariablesActor>(variables);
            registry.Register<InstanceReaper>(reaper);
        });
        builder.WithShardRegion<ExecutionInstanceActor>(PromptActorsConfig.ShardTypeName,
            (system, registry, _) => PromptActorsComposition.InstanceProps(system, options, Services(sp, options),
                registry.Get<PromptCacheActor>(), registry.Get<ScopedVariablesActor>(), registry.Get<InstanceReaper>()),
            PromptActorsComposition.Extractor(options),
            // Sharding stops an instance on hand-off with StopInstance: the instance finishes its running task first.
            new ShardOptions { HandOffStopMessage = StopInstance.Instance });
        builder.WithActors((system, registry) =>
            PromptActorsComposition.StartAfterRegion(system, options, registry.Get<ExecutionInstanceActor>()));
        if (options.TaskSweeper.Enabled)
        {
            builder.WithSingleton<TaskSweeper>(PromptActorsComposition.TaskSweeperName,
                (system, _, _) => PromptActorsComposition.TaskSweeperProps(system, options, Services(sp, options)),
                new ClusterSingletonOptions { TerminationMessage = PoisonPill.Instance }, createProxyToo: false);
        }
        return builder;
    }

    private static PromptActorsServices Services(IServiceProvider sp, PromptActorsOptions options) =>
        sp.GetService<PromptActorsServices>() ?? ServicesFrom(sp, options);

    /// <summary>The services from the container; the tools are an <see cref="Tools.IToolRegistry"/> service if there is one, else <c>options.Tools</c>.</summary>
    private static PromptActorsServices ServicesFrom(IServiceProvider sp, PromptActorsOptions options)
    {
        var prompts = sp.GetService<IPromptStore>();
        var variables = sp.GetService<IScopedVariableStore>();
        var runs = sp.GetService<IRunStore>();
        var models = sp.GetService<IModelRegistry>();
        if (prompts is null || variables is null || runs is null || models is null)
        {
            var missing = new (object? Service, string Name)[]
                {
                    (prompts, nameof(IPromptStore)), (variables, nameof(IScopedVariableStore)), (runs, nameof(IRunStore)),
                    (models, nameof(IModelRegistry)),
                }
                .Where(s => s.Service is null).Select(s => s.Name);
            throw new InvalidOperationException("PromptActors needs " + string.Join(", ", missing) + ". Register the stores with "
                + "AddPromptActorsWithStorage (PromptActors.Persistence: SQLite or PostgreSQL) or AddPromptActorsInMemoryStores "
                + "(PromptActors.Testing), and the models with AddPromptActorsModels (PromptActors.Models), or register your own.");
        }
        return new PromptActorsServices(prompts, variables, runs, models, sp.GetService<TimeProvider>() ?? TimeProvider.System,
            sp.GetService<IJsonSchemaValidator>(), sp.GetService<Tools.IToolRegistry>() ?? options.Tools,
            sp.GetService<Attachments.IAttachmentStore>());
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
