using Akka.Actor;
using Akka.Event;

namespace PromptActors.Instances;

/// <summary>Reaper limits (DESIGN §4): completed instances idle longer than <see cref="CompletedTtl"/> and the oldest
/// completed ones beyond <see cref="MaxCompletedPerNode"/> are reaped; checked every <see cref="SweepInterval"/>
/// and on every registration.</summary>
public sealed record ReaperSettings(TimeSpan CompletedTtl, int MaxCompletedPerNode, TimeSpan SweepInterval)
{
    public static readonly ReaperSettings Default = new(TimeSpan.FromMinutes(30), 50, TimeSpan.FromMinutes(1));
}

/// <summary>
/// One per node. Tracks the completed instances living on this node and tells each one to reap itself (through the
/// shard region) when it is too old or too many are kept. The instance decides: a <c>retain</c> instance only passivates,
/// others leave a tombstone. Over the per-node limit, a conversation that may go on (chat allowed) is only passivated:
/// the limit bounds memory, and a conversation waiting for its next message is not lost to load. The reaper keeps such a
/// passivated instance on its list (not counting towards the limit) and reaps it when its time is up. Time comes from
/// the injected <see cref="TimeProvider"/>, so tests advance a fake clock.
/// </summary>
public sealed class InstanceReaper : ReceiveActor
{
    private readonly ReaperSettings _settings;
    private readonly TimeProvider _time;
    private readonly Func<IActorRef> _region;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    // Every tracked instance: when it completed, and whether it was passivated over the limit (not in memory).
    private readonly Dictionary<string, (DateTimeOffset CompletedAt, bool Passivated)> _tracked = new(StringComparer.Ordinal);
    // All tracked instances by completion (for the TTL), and those in memory (for the limit): each sweep and each
    // registration costs O(log n) per instance it touches, however many are tracked.
    private readonly SortedSet<(DateTimeOffset CompletedAt, string Id)> _byAge = new(Oldest.Instance);
    private readonly SortedSet<(DateTimeOffset CompletedAt, string Id)> _inMemory = new(Oldest.Instance);
    private ITimer? _timer;

    private sealed class Sweep : INoSerializationVerificationNeeded
    {
        public static readonly Sweep Instance = new();
    }

    private sealed class Oldest : IComparer<(DateTimeOffset CompletedAt, string Id)>
    {
        public static readonly Oldest Instance = new();

        public int Compare((DateTimeOffset CompletedAt, string Id) x, (DateTimeOffset CompletedAt, string Id) y)
        {
            var byTime = x.CompletedAt.CompareTo(y.CompletedAt);
            return byTime != 0 ? byTime : string.CompareOrdinal(x.Id, y.Id);
        }
    }

    public InstanceReaper(ReaperSettings settings, TimeProvider time, Func<IActorRef> region)
    {
        _settings = settings;
        _time = time;
        _region = region;

        Receive<InstanceCompletedNotice>(n =>
        {
            Forget(n.InstanceId);
            _tracked[n.InstanceId] = (n.CompletedAt, false);
            _byAge.Add((n.CompletedAt, n.InstanceId));
            _inMemory.Add((n.CompletedAt, n.InstanceId));
            ReapExpired();
            EnforceLimit();
        });
        Receive<InstanceActiveNotice>(n => Forget(n.InstanceId));
        Receive<Sweep>(_ =>
        {
            ReapExpired();
            EnforceLimit();
        });
        Receive<GetReaperState>(_ => Sender.Tell(new ReaperState(
            _inMemory.Select(e => e.Id).ToArray(),
            _byAge.Where(e => _tracked[e.Id].Passivated).Select(e => e.Id).ToArray())));
    }

    public static Props Props(ReaperSettings settings, TimeProvider time, Func<IActorRef> region) =>
        Akka.Actor.Props.Create(() => new InstanceReaper(settings, time, region));

    protected override void PreStart()
    {
        var self = Self;
        _timer = _time.CreateTimer(_ => self.Tell(Sweep.Instance), null, _settings.SweepInterval, _settings.SweepInterval);
    }

    protected override void PostStop() => _timer?.Dispose();

    private void Forget(string id)
    {
        if (!_tracked.Remove(id, out var entry))
            return;
        _byAge.Remove((entry.CompletedAt, id));
        _inMemory.Remove((entry.CompletedAt, id));
    }

    /// <summary>Completed longer than the TTL ago: reaped (a passivated one is woken from its journal to be reaped).</summary>
    private void ReapExpired()
    {
        var now = _time.GetUtcNow();
        var reaped = 0;
        while (_byAge.Count > 0 && now - _byAge.Min.CompletedAt >= _settings.CompletedTtl)
        {
            var (completedAt, id) = _byAge.Min;
            Forget(id);
            _region().Tell(new ReapInstance(id, completedAt));
            reaped++;
        }
        if (reaped > 0)
            _log.Debug("Reaped {0} instances completed more than {1} ago; {2} still tracked", reaped, _settings.CompletedTtl, _tracked.Count);
    }

    /// <summary>More completed instances in memory than allowed: the oldest go (passivated or reaped, as they decide).</summary>
    private void EnforceLimit()
    {
        while (_inMemory.Count > _settings.MaxCompletedPerNode)
        {
            var (completedAt, id) = _inMemory.Min;
            _inMemory.Remove(_inMemory.Min);
            // Still tracked for its TTL; if the instance reaps itself instead (one-shot), its notice removes it.
            _tracked[id] = (completedAt, true);
            _region().Tell(new ReapInstance(id, completedAt, OverLimit: true));
        }
    }
}
