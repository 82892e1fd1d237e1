using System.Collections.Concurrent;
using Akka.Actor;

namespace PromptActors.Instances;

/// <summary>
/// The instances running on this node, by entity id: each registers itself when it starts and leaves when it stops. The
/// engine sends a command to a running local instance directly instead of through the shard region and the shard (two
/// mailbox hops, and two node-wide actors every command passed through). What that gives up is covered: a command that
/// reaches an instance which has begun to passivate is handed back to its shard (as one the shard delivered would be),
/// and one that reaches an instance already stopped becomes a dead letter, which <see cref="InstanceDeadLetters"/> sends
/// through the region. Sharding's own idle passivation, which counts only the messages that pass through the shard, is
/// off (hocon/prompt-actors.hocon): instances passivate themselves.
/// </summary>
public sealed class InstanceDirectory
{
    private readonly ConcurrentDictionary<string, IActorRef> _running = new(StringComparer.Ordinal);

    /// <summary>How many instances are registered (for tests and diagnostics).</summary>
    public int Count => _running.Count;

    internal void Register(string entityId, IActorRef instance) => _running[entityId] = instance;

    /// <summary>Removes the entry when it is still <paramref name="instance"/>'s (a newer incarnation keeps its own).</summary>
    internal void Unregister(string entityId, IActorRef instance) =>
        _running.TryRemove(new KeyValuePair<string, IActorRef>(entityId, instance));

    /// <summary>The running local instance <paramref name="entityId"/>, when there is one.</summary>
    public bool TryGet(string entityId, out IActorRef instance) => _running.TryGetValue(entityId, out instance!);
}
