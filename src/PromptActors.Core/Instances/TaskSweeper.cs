using Akka.Actor;
using Akka.Event;
using PromptActors.Runs;

namespace PromptActors.Instances;

/// <summary>Settings of the <see cref="TaskSweeper"/> (from <c>PromptActors:TaskSweeper</c>).</summary>
public sealed record TaskSweeperSettings(TimeSpan Interval, TimeSpan StaleAfter, TimeSpan Lookback, int BatchSize);

/// <summary>
/// A cluster singleton that finds task rows left <c>pending</c> or <c>streaming</c> (the node running the task died, or
/// stopped before the final row was written) and sends each owning instance a <see cref="CheckTask"/> through the shard
/// region. Being addressed makes a dead node's instance recover on a live node, where recovery marks the unfinished task
/// failed (<c>interrupted</c>) and the outbox writes its final row; a live instance that is still running the task ignores
/// the message. So no task row stays unfinished longer than about failure detection + the split-brain resolver's
/// stable-after + <see cref="TaskSweeperSettings.StaleAfter"/> + <see cref="TaskSweeperSettings.Interval"/>, whether or not
/// a client touches the instance. It reads an index range (tasks created within <see cref="TaskSweeperSettings.Lookback"/>).
/// </summary>
public sealed class TaskSweeper : ReceiveActor, IWithTimers
{
    private readonly IRunStore _runs;
    private readonly Func<IActorRef> _region;
    private readonly TaskSweeperSettings _settings;
    private readonly TimeProvider _time;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private bool _sweeping;

    public TaskSweeper(IRunStore runs, Func<IActorRef> region, TaskSweeperSettings settings, TimeProvider time)
    {
        _runs = runs;
        _region = region;
        _settings = settings;
        _time = time;

        Receive<Sweep>(_ => StartSweep());
        Receive<Found>(found =>
        {
            _sweeping = false;
            if (found.Tasks.Count == 0)
                return;
            var region = _region();
            foreach (var task in found.Tasks)
                region.Tell(new CheckTask(task.InstanceId, task.TaskId), Self);
            _log.Info("Task sweeper: {0} task row(s) still pending or streaming after {1}; woke their instances ({2})",
                found.Tasks.Count, _settings.StaleAfter, string.Join(", ", found.Tasks.Take(5).Select(t => t.InstanceId + "/" + t.TaskId)));
        });
        Receive<SweepFailed>(failed =>
        {
            _sweeping = false;
            _log.Warning("Task sweeper: reading unfinished task rows failed: {0}", failed.Reason);
        });
        Receive<Rejected>(_ => { }); // an instance that no longer exists; nothing to do
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(IRunStore runs, Func<IActorRef> region, TaskSweeperSettings settings, TimeProvider time) =>
        Akka.Actor.Props.Create(() => new TaskSweeper(runs, region, settings, time));

    protected override void PreStart() => Timers.StartPeriodicTimer("sweep", Sweep.Instance, _settings.Interval, _settings.Interval);

    private void StartSweep()
    {
        if (_sweeping)
            return;
        _sweeping = true;
        var now = _time.GetUtcNow();
        _runs.FindUnfinishedTasksAsync(now - _settings.StaleAfter, now - _settings.Lookback, _settings.BatchSize)
            .PipeTo(Self, success: tasks => new Found(tasks), failure: e => new SweepFailed(e.GetBaseException().Message));
    }

    private sealed class Sweep : INoSerializationVerificationNeeded
    {
        public static readonly Sweep Instance = new();
    }

    private sealed record Found(IReadOnlyList<UnfinishedTask> Tasks) : INoSerializationVerificationNeeded;

    private sealed record SweepFailed(string Reason) : INoSerializationVerificationNeeded;
}
