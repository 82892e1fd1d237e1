using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Cluster.Tools.Singleton;
using Akka.Hosting;
using PromptActors.Instances;
using PromptActors.Models;
using PromptActors.Prompts;
using PromptActors.Runs;
using PromptActors.Variables;

namespace PromptActors.Engine;

/// <summary>
/// The stores and models the engine runs against. <paramref name="Schemas"/> checks the JSON schemas of prompts and the
/// replies under them (PromptActors.Models' <c>JsonSchemaValidator</c>); without one, a prompt with a <c>json_schema</c>
/// response format cannot be saved. <paramref name="Tools"/> are the tools prompts may offer the model (none when null).
/// <paramref name="Attachments"/> keeps the bytes of image and file parts; without one, messages may not carry them.
/// </summary>
public sealed record PromptActorsServices(
    IPromptStore Prompts,
    IScopedVariableStore Variables,
    IRunStore Runs,
    IModelRegistry Models,
    TimeProvider Time,
    IJsonSchemaValidator? Schemas = null,
    Tools.IToolRegistry? Tools = null,
    Attachments.IAttachmentStore? Attachments = null);

/// <summary>
/// The engine started on an actor system its caller made (a TestKit's, or an embedder's own); Akka.Hosting's
/// <c>AddPromptActors</c> composes the same actors itself. The actors are also in the system's <see cref="ActorRegistry"/>.
/// </summary>
public sealed class PromptActorsRuntime
{
    private PromptActorsRuntime(PromptActorsOptions options, PromptActorsServices services, PromptActorsNode node)
    {
        Options = options;
        Services = services;
        InstanceSettings = options.ToInstanceSettings();
        Nodes = node.Nodes;
        Materializer = node.Materializer;
    }

    public PromptActorsOptions Options { get; }
    public PromptActorsServices Services { get; }
    public InstanceSettings InstanceSettings { get; }
    public IActorRef PromptCache { get; private set; } = ActorRefs.Nobody;
    public IActorRef ScopedVariables { get; private set; } = ActorRefs.Nobody;
    public IActorRef Reaper { get; private set; } = ActorRefs.Nobody;
    public IActorRef InstanceRegion { get; private set; } = ActorRefs.Nobody;

    /// <summary>This node's singleton manager of the task sweeper (Nobody when it is off).</summary>
    public IActorRef TaskSweeper { get; private set; } = ActorRefs.Nobody;
    public IPromptExecutionEngine Engine { get; private set; } = null!;

    /// <summary>Which other nodes are gone (downed or removed): reply streams from their instances end then.</summary>
    public ClusterNodes Nodes { get; }
    public Akka.Streams.IMaterializer Materializer { get; }

    /// <summary>
    /// Starts the engine's actors on <paramref name="system"/>, which must use the cluster provider and
    /// <see cref="PromptActorsConfig.Default"/> (Akka.Hosting's <c>WithPromptActors</c> does both).
    /// </summary>
    public static PromptActorsRuntime Start(ActorSystem system, PromptActorsOptions options, PromptActorsServices services)
    {
        PromptActorsComposition.Validate(options, system.Name);
        var registry = ActorRegistry.For(system);
        var runtime = new PromptActorsRuntime(options, services, PromptActorsNode.Get(system));
        (runtime.PromptCache, runtime.ScopedVariables, runtime.Reaper) = PromptActorsComposition.StartSupport(system, options, services);
        registry.Register<PromptCacheActor>(runtime.PromptCache);
        registry.Register<ScopedVariablesActor>(runtime.ScopedVariables);
        registry.Register<InstanceReaper>(runtime.Reaper);

        var sharding = ClusterSharding.Get(system);
        var shardingSettings = ClusterShardingSettings.Create(system);
        runtime.InstanceRegion = sharding.Start(
            PromptActorsConfig.ShardTypeName,
            PromptActorsComposition.InstanceProps(system, options, services, runtime.PromptCache, runtime.ScopedVariables, runtime.Reaper),
            shardingSettings,
            PromptActorsComposition.Extractor(options),
            sharding.DefaultShardAllocationStrategy(shardingSettings),
            StopInstance.Instance);
        registry.Register<ExecutionInstanceActor>(runtime.InstanceRegion);
        PromptActorsComposition.StartAfterRegion(system, options, runtime.InstanceRegion);

        if (options.TaskSweeper.Enabled)
        {
            runtime.TaskSweeper = system.ActorOf(ClusterSingletonManager.Props(
                    PromptActorsComposition.TaskSweeperProps(system, options, services), PoisonPill.Instance,
                    ClusterSingletonManagerSettings.Create(system).WithSingletonName(PromptActorsComposition.TaskSweeperName)),
                PromptActorsComposition.TaskSweeperName);
        }

        runtime.Engine = new PromptExecutionEngine(system, options, services, new RegisteredActor<ExecutionInstanceActor>(registry),
            new RegisteredActor<PromptCacheActor>(registry), new RegisteredActor<ScopedVariablesActor>(registry));
        return runtime;
    }

    /// <summary>An actor of the system's registry, as Akka.Hosting hands one to a service.</summary>
    private sealed class RegisteredActor<TKey>(ActorRegistry registry) : IRequiredActor<TKey>
    {
        // Registered before the engine is made: known at once, and the same answer every time.
        private readonly IActorRef _actor = registry.Get<TKey>();
        private Task<IActorRef>? _got;

        public IActorRef ActorRef => _actor;

        public Task<IActorRef> GetAsync(CancellationToken cancellationToken = default) => _got ??= Task.FromResult(_actor);
    }
}
