using Akka.Actor;
using Akka.Event;

namespace PromptActors.Instances;

/// <summary>
/// Catches instance commands that reached an instance after it had stopped itself (a journal failure stops a persistent
/// actor at once, and what is still in its mailbox becomes a dead letter; Cluster Sharding buffers only for an entity
/// that passivates). Such a command is sent through the shard region again, which starts the instance again (up to three
/// times, the later ones 250 and 500 ms later); if it dies every time, the caller is told <c>store_unavailable</c> instead of waiting for its timeout (on one node nothing re-sends;
/// in a cluster the engine re-sends an unanswered command itself, so nothing is refused there).
/// </summary>
public sealed class InstanceDeadLetters : ReceiveActor
{
    private readonly IActorRef _region;
    // Commands sent once more, by caller (an ask's temporary actor is unique to one attempt), type and instance: the
    // command itself may arrive as a copy (serialize-messages), so it cannot be its own key.
    private readonly Dictionary<(IActorRef Sender, Type Type, string InstanceId), (DateTimeOffset First, int Sends)> _redelivered = new();
    private const int MaxSends = 3;
    // Commands whose caller a stopping instance answered with store_unavailable (see CommandRefused).
    private readonly Dictionary<(IActorRef Sender, Type Type, string InstanceId), DateTimeOffset> _refused = new();
    private readonly bool _clustered;
    private long _seen;
    private static readonly TimeSpan Remember = TimeSpan.FromMinutes(1);
    private readonly ILoggingAdapter _log = Context.GetLogger();

    public InstanceDeadLetters(IActorRef region, bool clustered)
    {
        _region = region;
        _clustered = clustered;
        Receive<CommandRefused>(refused =>
        {
            var now = Context.System.Scheduler.Now;
            // Most refused commands never turn into dead letters (they were not stashed): forget them after a minute.
            if (_refused.Count >= 1024)
                foreach (var old in _refused.Where(kv => now - kv.Value > Remember).Select(kv => kv.Key).ToList())
                    _refused.Remove(old);
            _refused[(refused.Caller, refused.Command, refused.InstanceId)] = now;
        });
        Receive<DeadLetter>(dead =>
        {
            // Only commands someone waits for: an ask (/temp) or one of our actors (/user: the sweeper, the reaper). The
            // region's own dead letters (a full buffer) carry a /system sender and are the region's business.
            if (dead.Message is not IInstanceCommand command || dead.Sender.IsNobody()
                || dead.Sender.Path.Elements.FirstOrDefault() is not ("temp" or "user"))
                return;
            var now = Context.System.Scheduler.Now;
            if (++_seen % 1024 == 0)
                foreach (var old in _redelivered.Where(kv => now - kv.Value.First > Remember).Select(kv => kv.Key).ToList())
                    _redelivered.Remove(old);
            var key = (dead.Sender, command.GetType(), command.InstanceId);
            if (_refused.Remove(key))
                return; // its caller was told store_unavailable when the instance stopped: sending it on would do it anyway
            if (!_redelivered.TryGetValue(key, out var sent) || now - sent.First > Remember)
                sent = (now, 0);
            if (sent.Sends < MaxSends)
            {
                // The first copy at once; later ones a little later, so that a journal breaker that lets one trial call
                // through (half-open, right after an outage) has closed by then.
                _redelivered[key] = (sent.First, sent.Sends + 1);
                if (sent.Sends == 0)
                    _region.Tell(command, dead.Sender);
                else
                    Context.System.Scheduler.ScheduleTellOnce(TimeSpan.FromMilliseconds(250 * sent.Sends), _region, command, dead.Sender);
                return;
            }
            // In a cluster the engine sends an unanswered command again on its own; refusing here would turn a hand-off
            // during a rolling restart into a failure. On one node nothing re-sends.
            if (_clustered || command is ReapInstance or CheckTask || dead.Sender.Path.Elements.FirstOrDefault() != "temp")
                return;
            _log.Debug("Instance {0} stopped {1} times before handling a {2}; its caller is told store_unavailable", command.InstanceId, MaxSends + 1, command.GetType().Name);
            dead.Sender.Tell(new Rejected(ErrorCodes.StoreUnavailable,
                $"instance '{command.InstanceId}' stopped before it could handle this command (the journal failed); nothing was changed, retry"));
        });
    }

    public static Props Props(IActorRef region, bool clustered = false) =>
        Akka.Actor.Props.Create(() => new InstanceDeadLetters(region, clustered));

    protected override void PreStart()
    {
        Context.System.EventStream.Subscribe(Self, typeof(DeadLetter));
        Context.System.EventStream.Subscribe(Self, typeof(CommandRefused));
    }

    protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);
}

/// <summary>
/// Published by a stopping instance for each command it answered with <c>store_unavailable</c>: such a command may still
/// sit in a stash and turn into a dead letter right after, which <see cref="InstanceDeadLetters"/> then leaves alone
/// (the caller was told nothing changed; handling it in the next incarnation would change something after all).
/// Published before the instance's remaining messages become dead letters, so it arrives first. Local only.
/// </summary>
internal sealed record CommandRefused(IActorRef Caller, Type Command, string InstanceId) : INoSerializationVerificationNeeded;
