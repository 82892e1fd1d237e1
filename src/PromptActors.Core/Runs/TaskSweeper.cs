using Akka.Actor;
using Akka.Event;
using PromptActors.Instances;

namespace PromptActors.Runs;

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
/// An instance that answers <see cref="TaskUnknown"/> will never write the row's outcome (its journal does not record the
/// task, or it was never started or is reaped): the sweeper then closes the row itself, <c>failed</c> with
/// <c>interrupted</c>, unless it has become terminal meanwhile; the run's totals are refreshed by that write.
/// </summary>
public sealed class TaskSweeper : ReceiveActor, IWithTimers
{
    private readonly IRunStore _runs;
    private readonly Func<IActorRef> _region;
    private readonly TaskSweeperSettings _settings;
    private readonly TimeProvider _time;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private bool _sweeping;

    // The rows of the last sweep, by task id: what a TaskUnknown answer refers to.
    private Dictionary<string, UnfinishedTask> _asked = new(StringComparer.Ordinal);

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
            _asked = found.Tasks.ToDictionary(t => t.TaskId, StringComparer.Ordinal);
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
        Receive<TaskUnknown>(unknown =>
        {
            if (_asked.Remove(unknown.TaskId, out var task) && task.InstanceId == unknown.InstanceId)
                Close(task);
        });
        Receive<Closed>(closed =>
        {
            if (closed.Written)
                _log.Info("Task sweeper: instance {0} knows no outcome of task {1}; its row was closed as interrupted",
                    closed.Task.InstanceId, closed.Task.TaskId);
        });
        Receive<CloseFailed>(failed => _log.Warning("Task sweeper: closing the row of task {0} failed: {1}", failed.TaskId, failed.Reason));
        Receive<Rejected>(_ => { }); // an instance that no longer exists; nothing to do
    }

    /// <summary>Writes the row of a task no instance will finish as failed/interrupted, unless it is terminal by now.</summary>
    private void Close(UnfinishedTask task)
    {
        var now = _time.GetUtcNow();
        CloseAsync(_runs, task, now).PipeTo(Self, success: written => new Closed(task, written),
            failure: e => new CloseFailed(task.TaskId, e.GetBaseException().Message));
    }

    private static async Task<bool> CloseAsync(IRunStore runs, UnfinishedTask task, DateTimeOffset now)
    {
        var run = await runs.GetRunAsync(task.RunId);
        var row = run?.Tasks.FirstOrDefault(t => t.TaskId == task.TaskId);
        if (row is null || row.IsTerminal)
            return false;
        await runs.UpsertTaskAsync(row with
        {
            Status = RunTaskStatus.Failed,
            ErrorCode = ErrorCodes.Interrupted,
            ErrorDetail = "the task was interrupted: its instance holds no outcome of it (the node running it stopped); send the message again to retry",
            UpdatedAt = now,
            CompletedAt = now,
            TotalTimeMs = row.TotalTimeMs ?? (now - row.CreatedAt).TotalMilliseconds,
        });
        return true;
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

    private sealed record Closed(UnfinishedTask Task, bool Written) : INoSerializationVerificationNeeded;

    private sealed record CloseFailed(string TaskId, string Reason) : INoSerializationVerificationNeeded;
}
