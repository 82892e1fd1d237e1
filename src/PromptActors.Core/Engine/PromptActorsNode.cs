using Akka.Actor;
using Akka.Streams;

namespace PromptActors.Engine;

/// <summary>
/// What the engine and the instances on one node share, made once per actor system (an Akka extension): which other
/// nodes are gone, and the materializer of the reply streams. A stream outlives a stopping instance just long enough to
/// carry its terminal event, and idle instances carry no materializer of their own.
/// </summary>
public sealed class PromptActorsNode : IExtension
{
    private PromptActorsNode(ExtendedActorSystem system)
    {
        Nodes = ClusterNodes.Start(system);
        Materializer = system.Materializer(namePrefix: "reply-streams");
    }

    /// <summary>Which other nodes are gone (downed or removed): reply streams from their instances end then.</summary>
    public ClusterNodes Nodes { get; }

    public IMaterializer Materializer { get; }

    /// <summary>The instances running on this node (the engine sends to them directly).</summary>
    public Instances.InstanceDirectory Instances { get; } = new();

    /// <summary>The scoped-variable answers the node's cache actor publishes for its instances (set when it starts).</summary>
    internal Variables.ScopedVariablesView? ScopedVariables { get; set; }

    public static PromptActorsNode Get(ActorSystem system) => system.WithExtension<PromptActorsNode, Provider>();

    private sealed class Provider : ExtensionIdProvider<PromptActorsNode>
    {
        public override PromptActorsNode CreateExtension(ExtendedActorSystem system) => new(system);
    }
}
