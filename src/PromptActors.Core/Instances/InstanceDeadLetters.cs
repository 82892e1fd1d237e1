using Akka.Actor;
using Akka.Event;

namespace PromptActors.Instances;

/// <summary>
/// Catches instance commands that reached an instance after it had stopped itself (a journal failure stops a persistent
/// actor at once, and what is still in its mailbox becomes a dead letter; Cluster Sharding buffers only for an entity
/// that passivates). Such a command is sent through the shard region once more, which starts the instance again; if it
/// dies again, the caller is told <c>store_unavailable</c> instead of waiting for its timeout (on one node nothing re-sends).
/// </summary>
public sealed class InstanceDeadLetters : ReceiveActor
{
    private readonly IActorRef _region;
    // Commands sent once more, by caller (an ask's temporary actor is unique to one attempt), type and instance: the
    // command itself may arrive as a copy (serialize-messages), so it cannot be its own key.
    private readonly Dictionary<(IActorRef Sender, Type Type, string InstanceId), DateTime> _redelivered = new();
    private static readonly TimeSpan Remember = TimeSpan.FromMinutes(1);
    private readonly ILoggingAdapter _log = Context.GetLogger();

    public InstanceDeadLetters(IActorRef region)
    {
        _region = region;
        Receive<DeadLetter>(dead =>
        {
            if (dead.Message is not IInstanceCommand command || dead.Sender.IsNobody() || ReferenceEquals(dead.Sender, Context.System.DeadLetters))
                return;
            var now = DateTime.UtcNow;
            if (_redelivered.Count > 10_000)
                foreach (var old in _redelivered.Where(kv => now - kv.Value > Remember).Select(kv => kv.Key).ToList())
                    _redelivered.Remove(old);
            if (_redelivered.TryAdd((dead.Sender, command.GetType(), command.InstanceId), now))
            {
                _region.Tell(command, dead.Sender);
                return;
            }
            if (command is ReapInstance or CheckTask)
                return; // nobody waits for an answer
            _log.Debug("Instance {0} stopped twice before handling a {1}; its caller is told store_unavailable", command.InstanceId, command.GetType().Name);
            dead.Sender.Tell(new Rejected(ErrorCodes.StoreUnavailable,
                $"instance '{command.InstanceId}' stopped before it could handle this command (the journal failed); nothing was changed, retry"));
        });
    }

    public static Props Props(IActorRef region) => Akka.Actor.Props.Create(() => new InstanceDeadLetters(region));

    protected override void PreStart() => Context.System.EventStream.Subscribe(Self, typeof(DeadLetter));

    protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);
}
