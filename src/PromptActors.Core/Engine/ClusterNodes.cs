using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Cluster;

namespace PromptActors.Engine;

/// <summary>
/// Tells when another node is gone for good: downed (by the split-brain resolver or an operator) or removed from the
/// cluster. A reply stream read from an instance on that node ends then, instead of waiting forever: a stream ref does not
/// watch the node at its other end.
/// </summary>
public sealed class ClusterNodes
{
    private readonly Cluster _cluster;
    private readonly string _self;
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _watched = new(StringComparer.Ordinal);

    private ClusterNodes(ActorSystem system)
    {
        _cluster = Cluster.Get(system);
        _self = _cluster.SelfAddress.ToString();
    }

    internal static ClusterNodes Start(ActorSystem system)
    {
        var nodes = new ClusterNodes(system);
        system.ActorOf(Props.Create(() => new Listener(nodes)), "cluster-nodes");
        return nodes;
    }

    /// <summary>
    /// Completes when the node at <paramref name="address"/> is downed or removed (at once if it is not a live member);
    /// null for this node or no address.
    /// </summary>
    public Task? WhenGone(string? address)
    {
        if (string.IsNullOrEmpty(address) || address == _self)
            return null;
        var gone = _watched.GetOrAdd(address, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!_cluster.State.Members.Any(m => m.Address.ToString() == address && m.Status is not (MemberStatus.Down or MemberStatus.Removed)))
        {
            // Not kept: a node that rejoins at the same address later must not look gone to every stream from it.
            gone.TrySetResult();
            _watched.TryRemove(KeyValuePair.Create(address, gone));
        }
        return gone.Task;
    }

    private TaskCompletionSource _removal = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// Completes when the next node is removed from the cluster. Commands sent to it while it was unreachable were lost:
    /// the engine sends what is still unanswered again then, instead of waiting for its attempt timeout.
    /// </summary>
    public Task NextRemoval => Volatile.Read(ref _removal).Task;

    private void Removed()
    {
        var fired = Interlocked.Exchange(ref _removal, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        fired.TrySetResult();
    }

    /// <summary>Addresses with a pending watch (for tests).</summary>
    internal int Watched => _watched.Count;

    private void Gone(Address address)
    {
        if (_watched.TryRemove(address.ToString(), out var gone))
            gone.TrySetResult();
    }

    private sealed class Listener : ReceiveActor
    {
        public Listener(ClusterNodes nodes)
        {
            Receive<ClusterEvent.MemberDowned>(m => nodes.Gone(m.Member.Address));
            Receive<ClusterEvent.MemberRemoved>(m =>
            {
                nodes.Gone(m.Member.Address);
                nodes.Removed();
            });
            Receive<ClusterEvent.CurrentClusterState>(_ => { });
            Receive<ClusterEvent.IMemberEvent>(_ => { });
        }

        protected override void PreStart() =>
            Cluster.Get(Context.System).Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents,
                typeof(ClusterEvent.MemberDowned), typeof(ClusterEvent.MemberRemoved));

        protected override void PostStop() => Cluster.Get(Context.System).Unsubscribe(Self);
    }
}
