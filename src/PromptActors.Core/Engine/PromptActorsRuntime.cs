using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Cluster.Tools.Singleton;
using Akka.Streams;
using PromptActors.Instances;
using PromptActors.Models;
using PromptActors.Prompts;
using PromptActors.Runs;
using PromptActors.Variables;

namespace PromptActors.Engine;

/// <summary>The stores and models the engine runs against.</summary>
public sealed record PromptActorsServices(
    IPromptStore Prompts,
    IScopedVariableStore Variables,
    IRunStore Runs,
    IModelRegistry Models,
    TimeProvider Time);

/// <summary>The running engine on one node: its actors, settings and the embedding API.</summary>
public sealed class PromptActorsRuntime
{
    private PromptActorsRuntime(PromptActorsOptions options, PromptActorsServices services, InstanceSettings instanceSettings)
    {
        Options = options;
        Services = services;
        InstanceSettings = instanceSettings;
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
    public ClusterNodes Nodes { get; private set; } = null!;
    public Akka.Streams.IMaterializer Materializer { get; private set; } = null!;

    /// <summary>
    /// Starts the engine's actors on <paramref name="system"/>, which must use the cluster provider and
    /// <see cref="PromptActorsConfig.Default"/> (Akka.Hosting's <c>WithPromptActors</c> does both).
    /// </summary>
    public static PromptActorsRuntime Start(ActorSystem system, PromptActorsOptions options, PromptActorsServices services)
    {
        var errors = options.Validate(system.Name);
        if (errors.Count > 0)
            throw new ArgumentException("Invalid PromptActors options: " + string.Join("; ", errors), nameof(options));

        var runtime = new PromptActorsRuntime(options, services, options.ToInstanceSettings());
        runtime.PromptCache = system.ActorOf(PromptCacheActor.Props(services.Prompts, services.Time, options.PromptLatestTtl), "prompt-cache");
        runtime.ScopedVariables = system.ActorOf(
            ScopedVariablesActor.Props(services.Variables, services.Time, options.ScopedVariablesTtl), "scoped-variables");

        var sharding = ClusterSharding.Get(system);
        runtime.Reaper = system.ActorOf(InstanceReaper.Props(
            new ReaperSettings(options.Reaper.CompletedTtl, options.Reaper.MaxCompletedPerNode, options.Reaper.SweepInterval),
            services.Time, () => sharding.ShardRegion(PromptActorsConfig.ShardTypeName)), "instance-reaper");

        // One materializer per node for the reply streams: a stream outlives a stopping instance just long enough to
        // carry its terminal event, and idle instances carry no materializer of their own.
        runtime.Materializer = system.Materializer(namePrefix: "reply-streams");
        var deps = new InstanceDependencies(runtime.PromptCache, runtime.ScopedVariables, runtime.Reaper, services.Models,
            services.Runs, services.Time, runtime.InstanceSettings, runtime.Materializer);
        var shardingSettings = ClusterShardingSettings.Create(system);
        runtime.InstanceRegion = sharding.Start(
            PromptActorsConfig.ShardTypeName,
            entityId => ExecutionInstanceActor.Props(entityId, deps),
            shardingSettings,
            new InstanceMessageExtractor(options.NumberOfShards),
            sharding.DefaultShardAllocationStrategy(shardingSettings),
            StopInstance.Instance);

        system.ActorOf(InstanceDeadLetters.Props(runtime.InstanceRegion, options.Cluster.Enabled), "instance-dead-letters");

        var mediator = DistributedPubSub.Get(system).Mediator;
        var relay = system.ActorOf(Props.Create(() => new InvalidationRelay(runtime.PromptCache, runtime.ScopedVariables)),
            "invalidation-relay");
        mediator.Tell(new Subscribe(PromptActorsConfig.InvalidationTopic, relay), relay);

        if (options.TaskSweeper.Enabled)
        {
            var sweeper = options.TaskSweeper;
            runtime.TaskSweeper = system.ActorOf(ClusterSingletonManager.Props(
                    Runs.TaskSweeper.Props(services.Runs, () => sharding.ShardRegion(PromptActorsConfig.ShardTypeName),
                        new TaskSweeperSettings(sweeper.Interval, sweeper.StaleAfter, sweeper.Lookback, sweeper.BatchSize), services.Time),
                    PoisonPill.Instance, ClusterSingletonManagerSettings.Create(system)),
                "task-sweeper");
        }

        if (options.JoinSelf && !options.Cluster.Enabled)
        {
            var cluster = Cluster.Get(system);
            cluster.Join(cluster.SelfAddress);
        }
        runtime.Nodes = ClusterNodes.Start(system);
        runtime.Engine = new PromptExecutionEngine(system, runtime);
        return runtime;
    }

    /// <summary>Hands invalidations published by any node to this node's caches.</summary>
    private sealed class InvalidationRelay : ReceiveActor
    {
        public InvalidationRelay(IActorRef prompts, IActorRef variables)
        {
            Receive<InvalidatePrompt>(m => prompts.Tell(m));
            Receive<InvalidateScopedVariables>(m => variables.Tell(m));
            Receive<SubscribeAck>(_ => { });
        }
    }
}
