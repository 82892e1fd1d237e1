using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Akka.Cluster.Tools.PublishSubscribe;
using PromptActors.Instances;
using PromptActors.Prompts;
using PromptActors.Runs;
using PromptActors.Variables;

namespace PromptActors.Engine;

/// <summary>
/// The engine's actors on one node, piece by piece, in the order they start. Akka.Hosting's <c>WithPromptActors</c>
/// composes them with <c>WithActors</c>, <c>WithShardRegion</c> and <c>WithSingleton</c>; <see cref="PromptActorsRuntime.Start"/>
/// composes the same pieces on an actor system its caller made.
/// </summary>
internal static class PromptActorsComposition
{
    public const string TaskSweeperName = "task-sweeper";

    public static void Validate(PromptActorsOptions options, string systemName)
    {
        var errors = options.Validate(systemName);
        if (errors.Count > 0)
            throw new ArgumentException("Invalid PromptActors options: " + string.Join("; ", errors), nameof(options));
    }

    /// <summary>The node's actors that instances use: the prompt and scoped-variable caches (and the relay of their
    /// invalidations from other nodes) and the reaper.</summary>
    public static (IActorRef PromptCache, IActorRef ScopedVariables, IActorRef Reaper) StartSupport(
        ActorSystem system, PromptActorsOptions options, PromptActorsServices services)
    {
        var prompts = system.ActorOf(PromptCacheActor.Props(services.Prompts, services.Time, options.PromptLatestTtl), "prompt-cache");
        var view = PromptActorsNode.Get(system).ScopedVariables = new ScopedVariablesView(services.Time);
        var variables = system.ActorOf(
            ScopedVariablesActor.Props(services.Variables, services.Time, options.ScopedVariablesTtl, view), "scoped-variables");
        var reaper = system.ActorOf(InstanceReaper.Props(
            new ReaperSettings(options.Reaper.CompletedTtl, options.Reaper.MaxCompletedPerNode, options.Reaper.SweepInterval),
            services.Time, () => Region(system)), "instance-reaper");

        var relay = system.ActorOf(Props.Create(() => new InvalidationRelay(prompts, variables)), "invalidation-relay");
        DistributedPubSub.Get(system).Mediator.Tell(new Subscribe(PromptActorsConfig.InvalidationTopic, relay), relay);
        return (prompts, variables, reaper);
    }

    /// <summary>This node's instance shard region (once started).</summary>
    public static IActorRef Region(ActorSystem system) => ClusterSharding.Get(system).ShardRegion(PromptActorsConfig.ShardTypeName);

    public static IMessageExtractor Extractor(PromptActorsOptions options) => new InstanceMessageExtractor(options.NumberOfShards);

    /// <summary>The props of an instance entity; sharding stops one with <see cref="StopInstance"/> on hand-off.</summary>
    public static Func<string, Props> InstanceProps(ActorSystem system, PromptActorsOptions options, PromptActorsServices services,
        IActorRef promptCache, IActorRef scopedVariables, IActorRef reaper)
    {
        var deps = new InstanceDependencies(promptCache, scopedVariables, reaper, services.Models, services.Runs, services.Time,
            options.ToInstanceSettings(), PromptActorsNode.Get(system).Materializer, services.Schemas, services.Tools ?? options.Tools,
            services.Attachments, PromptActorsNode.Get(system).ScopedVariables, PromptActorsNode.Get(system).Instances);
        return entityId => ExecutionInstanceActor.Props(entityId, deps);
    }

    /// <summary>What needs the region: the dead-letter watch, and joining itself when the node is its own cluster.</summary>
    public static void StartAfterRegion(ActorSystem system, PromptActorsOptions options, IActorRef region)
    {
        system.ActorOf(InstanceDeadLetters.Props(region, options.Cluster.Enabled), "instance-dead-letters");
        if (options.JoinSelf && !options.Cluster.Enabled)
        {
            var cluster = Cluster.Get(system);
            cluster.Join(cluster.SelfAddress);
        }
        _ = PromptActorsNode.Get(system); // watches the cluster from the start
    }

    /// <summary>The task sweeper, run as a cluster singleton (one node of the cluster at a time).</summary>
    public static Props TaskSweeperProps(ActorSystem system, PromptActorsOptions options, PromptActorsServices services)
    {
        var sweeper = options.TaskSweeper;
        return TaskSweeper.Props(services.Runs, () => Region(system),
            new TaskSweeperSettings(sweeper.Interval, sweeper.StaleAfter, sweeper.Lookback, sweeper.BatchSize), services.Time);
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
