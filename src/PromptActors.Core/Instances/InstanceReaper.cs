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
/// others leave a tombstone. Time comes from the injected <see cref="TimeProvider"/>, so tests advance a fake clock.
/// </summary>
public sealed class InstanceReaper : ReceiveActor
{
    private readonly ReaperSettings _settings;
    private readonly TimeProvider _time;
    private readonly Func<IActorRef> _region;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<string, DateTimeOffset> _completed = new(StringComparer.Ordinal);
    private ITimer? _timer;

    private sealed class Sweep : INoSerializationVerificationNeeded
    {
        public static readonly Sweep Instance = new();
    }

    public InstanceReaper(ReaperSettings settings, TimeProvider time, Func<IActorRef> region)
    {
        _settings = settings;
        _time = time;
        _region = region;

        Receive<InstanceCompletedNotice>(n =>
        {
            _completed[n.InstanceId] = n.CompletedAt;
            DoSweep();
        });
        Receive<InstanceActiveNotice>(n => { _completed.Remove(n.InstanceId); }); // a statement: a bool lambda would mean "unhandled" when absent
        Receive<Sweep>(_ => DoSweep());
        Receive<GetReaperState>(_ => Sender.Tell(new ReaperState(
            _completed.OrderBy(kv => kv.Value).Select(kv => kv.Key).ToArray())));
    }

    public static Props Props(ReaperSettings settings, TimeProvider time, Func<IActorRef> region) =>
        Akka.Actor.Props.Create(() => new InstanceReaper(settings, time, region));

    protected override void PreStart()
    {
        var self = Self;
        _timer = _time.CreateTimer(_ => self.Tell(Sweep.Instance), null, _settings.SweepInterval, _settings.SweepInterval);
    }

    protected override void PostStop() => _timer?.Dispose();

    private void DoSweep()
    {
        var now = _time.GetUtcNow();
        var toReap = new List<KeyValuePair<string, DateTimeOffset>>();
        foreach (var kv in _completed)
        {
            if (now - kv.Value >= _settings.CompletedTtl)
                toReap.Add(kv);
        }
        var excess = _completed.Count - toReap.Count - _settings.MaxCompletedPerNode;
        if (excess > 0)
        {
            toReap.AddRange(_completed
                .Where(kv => now - kv.Value < _settings.CompletedTtl)
                .OrderBy(kv => kv.Value)
                .ThenBy(kv => kv.Key, StringComparer.Ordinal)
                .Take(excess));
        }
        if (toReap.Count == 0)
            return;
        var region = _region();
        foreach (var (id, completedAt) in toReap)
        {
            _completed.Remove(id);
            region.Tell(new ReapInstance(id, completedAt));
        }
        _log.Debug("Reaped {0} completed instances; {1} still tracked", toReap.Count, _completed.Count);
    }
}
