using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using PromptActors.Runs;
using PromptActors.Telemetry;

namespace PromptActors.Instances;

/// <summary>
/// The instance's outbox to the run store, owned by its actor (as Akka.Persistence's at-least-once delivery is): the
/// journal holds every final task row not yet confirmed (<see cref="InstanceState.Unsynced"/>); the outbox sends each
/// (idempotent upsert by task id), retries failures with jittered exponential back-off, and collects the confirmations
/// so that the next <see cref="MessageSubmitted"/> records them (<see cref="TakeAcknowledged"/>) instead of an event per
/// task. Progress rows (pending, streaming) are best-effort and written one after another.
/// </summary>
internal sealed class RunOutbox(IRunStore store, InstanceSettings settings, ILoggingAdapter log, IActorRef self, Func<ITimerScheduler> timers)
{
    private readonly HashSet<string> _inFlight = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _attempts = new(StringComparer.Ordinal);
    // When each unconfirmed final row was first sent (the outbox lag metric runs from there to the confirmation).
    private readonly Dictionary<string, long> _firstSent = new(StringComparer.Ordinal);
    // Tasks whose final row the run store confirmed since the last MessageSubmitted (which records them).
    private List<string>? _acknowledged;
    // The last progress write of this instance; the next one starts after it.
    private Task _progress = Task.CompletedTask;

    /// <summary>Sends every row the journal says the store lacks (those not already on their way).</summary>
    /// <param name="state">The instance's state (its unconfirmed rows).</param>
    /// <param name="trace">The turn's trace context: each write is a span under it (none when tracing is off).</param>
    public void SendAll(InstanceState state, ActivityContext trace = default)
    {
        foreach (var record in state.Unsynced.Values.ToArray())
            Send(record, trace);
    }

    public void Send(RunTaskRecord record, ActivityContext trace = default)
    {
        if (!_inFlight.Add(record.TaskId))
            return;
        var taskId = record.TaskId;
        _firstSent.TryAdd(taskId, Stopwatch.GetTimestamp());
        var span = trace == default
            ? null
            : PromptActorsTelemetry.StartDetached(PromptActorsTelemetry.Store, "promptactors.run_store.write", ActivityKind.Client, trace);
        span?.SetTag("promptactors.task.id", taskId).SetTag("promptactors.task.status", record.Status.ToString().ToLowerInvariant());
        var write = store.UpsertTaskAsync(record);
        if (span is not null)
            write.ContinueWith(t =>
            {
                if (t.IsFaulted)
                    span.SetStatus(ActivityStatusCode.Error, t.Exception?.GetBaseException().GetType().Name);
                PromptActorsTelemetry.StopDetached(span);
            }, TaskScheduler.Default);
        write.PipeTo(self,
            success: () => new SyncResult(taskId, null),
            failure: e => new SyncResult(taskId, e.GetBaseException().Message));
    }

    /// <summary>A retry timer fired: the row goes again if it is still unconfirmed.</summary>
    public void Retry(RetrySync retry, InstanceState state)
    {
        if (state.Unsynced.TryGetValue(retry.TaskId, out var record))
            Send(record);
    }

    /// <summary>
    /// The store answered a write. True when it confirmed a row the journal still lists: the caller applies
    /// <see cref="TaskSynced"/> to the state (the confirmation is journaled with the next submitted message).
    /// </summary>
    public bool Confirmed(SyncResult result, InstanceState state)
    {
        _inFlight.Remove(result.TaskId);
        if (!state.Unsynced.ContainsKey(result.TaskId))
        {
            _firstSent.Remove(result.TaskId);
            return false;
        }
        if (result.Error is { } error)
        {
            var attempt = _attempts.TryGetValue(result.TaskId, out var a) ? a + 1 : 1;
            _attempts[result.TaskId] = attempt;
            var delay = Backoff(attempt);
            log.Warning("Recording task {0} in the run store failed (attempt {1}), retrying in {2}: {3}",
                result.TaskId, attempt, delay, error);
            timers().StartSingleTimer("sync-" + result.TaskId, new RetrySync(result.TaskId), delay);
            return false;
        }
        _attempts.Remove(result.TaskId);
        if (_firstSent.Remove(result.TaskId, out var sent))
            PromptActorsTelemetry.OutboxLag.Record(Stopwatch.GetElapsedTime(sent).TotalSeconds);
        (_acknowledged ??= new List<string>()).Add(result.TaskId);
        return true;
    }

    /// <summary>The confirmations to record on the next event (null when there are none).</summary>
    public string[]? TakeAcknowledged() => _acknowledged is { Count: > 0 } acked ? acked.ToArray() : null;

    /// <summary>The event carrying <paramref name="recorded"/> is journaled: they need not be recorded again.</summary>
    public void Recorded(IReadOnlyList<string>? recorded)
    {
        if (recorded is not null)
            _acknowledged?.RemoveAll(recorded.Contains);
    }

    /// <summary>
    /// Best-effort progress rows (pending, streaming) of the running task; the final row goes through the outbox.
    /// <paramref name="first"/>: the task has no row yet, so this write creates it (with <paramref name="status"/>, streaming
    /// too); otherwise a streaming write only marks the row the first write created.
    /// </summary>
    /// <returns>Completes when the write is done or failed (failures are logged here); null when nothing is written.</returns>
    public Task? WriteProgress(InstanceState state, RunTaskStatus status, DateTimeOffset now, bool first)
    {
        if (!state.Config.TrackInRuns || state.RunId is null || state.Current is not { } current)
            return null;
        var record = new RunTaskRecord(state.RunInfo(state.Start!), current.TaskId, current.Provider, current.Model,
            current.UserMessage, status, null, null, null, 0, 0, 0, 0m, null, null, current.SubmittedAt, now, null, current.Sequence, current.KeyId,
            current.Settings, Parts: current.Parts);
        var (logger, runs) = (log, store);
        // One after another, so the streaming mark never lands before the pending row it updates.
        _progress = _progress.ContinueWith(_ => first
                ? runs.UpsertTaskAsync(record)
                : runs.MarkStreamingAsync(record), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default)
            .Unwrap()
            .ContinueWith(t =>
            {
                if (t.IsCompletedSuccessfully)
                    return;
                // A store that is shutting down refuses new writes: expected while the node stops (the final row is in the
                // journal's unsynced list and is written after the restart), so it is not a warning per task.
                if (t.Exception?.GetBaseException() is ObjectDisposedException)
                    logger.Debug("Progress of task {0} not recorded: the run store is shut down", record.TaskId);
                else
                    logger.Warning("Recording progress of task {0} failed: {1}", record.TaskId, t.Exception?.GetBaseException().Message);
            }, TaskContinuationOptions.ExecuteSynchronously);
        return _progress;
    }

    private TimeSpan Backoff(int attempt)
    {
        var ms = settings.SyncRetryMin.TotalMilliseconds * Math.Pow(2, Math.Min(attempt - 1, 20));
        ms = Math.Min(ms, settings.SyncRetryMax.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(ms * (0.8 + Random.Shared.NextDouble() * 0.4));
    }
}

/// <summary>The run store answered the write of task <see cref="TaskId"/> (with <see cref="Error"/> when it failed).</summary>
internal sealed record SyncResult(string TaskId, string? Error) : INoSerializationVerificationNeeded;

/// <summary>The turn of task <see cref="TaskId"/> has run for ProgressRowDelay: its row goes to the run store.</summary>
internal sealed record ProgressRowDue(string TaskId) : INoSerializationVerificationNeeded
{
    public const string Key = "progress-row";
}

/// <summary>The first progress row of a task is written (or failed): run reads waiting for it are answered.</summary>
internal sealed record ProgressRowWritten : INoSerializationVerificationNeeded
{
    public static readonly ProgressRowWritten Instance = new();
}

/// <summary>Time to send the row of task <see cref="TaskId"/> again.</summary>
internal sealed record RetrySync(string TaskId) : INoSerializationVerificationNeeded;
