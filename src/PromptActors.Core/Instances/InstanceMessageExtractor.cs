using Akka.Cluster.Sharding;

namespace PromptActors.Instances;

/// <summary>Routes every <see cref="IInstanceCommand"/> to its instance by id (50 shards by default).</summary>
public sealed class InstanceMessageExtractor(int maxNumberOfShards = InstanceMessageExtractor.DefaultShards)
    : HashCodeMessageExtractor(maxNumberOfShards)
{
    public const int DefaultShards = 50;

    public override string? EntityId(object message) => (message as IInstanceCommand)?.InstanceId;
}
