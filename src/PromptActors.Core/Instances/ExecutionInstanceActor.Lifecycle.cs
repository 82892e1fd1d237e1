using System.Text;
using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Event;
using Akka.Persistence;
using Akka.Streams;
using Microsoft.Extensions.AI;
using PromptActors.Models;
using PromptActors.Prompts;
using PromptActors.Runs;
using PromptActors.Streaming;
using PromptActors.Variables;

namespace PromptActors.Instances;

/// <summary>Recovery, snapshots, passivation, shard hand-off and the outbox's answers: the instance's phases.</summary>
public sealed partial class ExecutionInstanceActor
{
    /// <summary>
    /// Passivation, shard hand-off and shutdown stop the instance. During a hand-off (a node leaving, a rebalance) a running
    /// task is let finish and its row recorded first, for up to <see cref="InstanceSettings.HandOffWait"/>, so a graceful
    /// leave costs no reply; subscribers on other nodes keep streaming meanwhile.
    /// </summary>
    private void OnStop()
    {
        // A turn that only waits for a decision stops at once: nothing runs, and the decision finds it on its next node.
        if (_settings.HandOffWait > TimeSpan.Zero && ((_state.IsExecuting && !OnlyWaiting) || _state.Unsynced.Count > 0) && !_state.Expired)
        {
            if (_phase != InstancePhase.HandingOff)
            {
                _phase = InstancePhase.HandingOff;
                _log.Info("Instance {0} is being handed off; letting task {1} finish first", _instanceId, _state.Current?.TaskId);
                Timers.StartSingleTimer("hand-off", HandOffDeadline.Instance, _settings.HandOffWait);
                _outbox.SendAll(_state);
            }
            return;
        }
        Context.Stop(Self);
    }

    /// <summary>Stops a handed-off instance once its task is finished and recorded.</summary>
    private void StopIfHandedOff()
    {
        if (_phase == InstancePhase.HandingOff && (!_state.IsExecuting || OnlyWaiting) && _state.Unsynced.Count == 0)
            Context.Stop(Self);
    }

    private void OnCheckTask(CheckTask cmd)
    {
        Handling(cmd);
        var decision = Carry(cmd);
        if (decision is Decision.Answer { Passivate: false })
            _log.Info("Instance {0} knows no unfinished or unrecorded task {1}; the sweeper closes its row as interrupted", _instanceId, cmd.TaskId);
        if (decision is Decision.Proceed && _state.Unsynced.TryGetValue(cmd.TaskId, out var record))
            _outbox.Send(record);
    }

    private void OnRecovered()
    {
        SetReceiveTimeout(_settings.IdlePassivation);
        _recoveredAt = Time.GetUtcNow();
        if (_state.Expired || !_state.Started)
            return;
        if (InstanceDecider.Recover(_state, Time.GetUtcNow()) is { } failed)
        {
            // The node stopped while this task ran: its outcome is unknown, so it is marked failed and the caller may retry.
            _log.Warning("Instance {0} recovered with unfinished task {1}; marking it interrupted", _instanceId, _state.Current!.TaskId);
            Persist(failed, e =>
            {
                _state.Apply(e);
                _outbox.SendAll(_state);
                MaybeSnapshot();
            });
            return;
        }
        _outbox.SendAll(_state);
        if (_state.Current is not null)
        {
            WriteFirstProgressRow(_state.Current.TaskId); // it has run a while already: its row shows it (if it does not yet)
            ResumeTurn(); // a turn in its tools, or past its first model call, goes on
            return;
        }
        RegisterWithReaperIfDone();
    }

    private void RegisterWithReaperIfDone()
    {
        if (_state.Status == InstanceStatus.Completed && _state.Unsynced.Count == 0 && ReapReference() is { } at)
            _deps.Reaper.Tell(new InstanceCompletedNotice(_instanceId, at, _state.Start!.Retain));
    }

    /// <summary>
    /// When this instance became a reaping candidate: its completion, or — for a retained instance woken from its journal —
    /// the moment it was woken, so a caller who brings it back is not passivated again underneath.
    /// </summary>
    private DateTimeOffset? ReapReference() =>
        _state.CompletedAt is { } at && _state.Start is { Retain: true } && _recoveredAt > at ? _recoveredAt : _state.CompletedAt;

    private void MaybeSnapshot()
    {
        if (_settings.SnapshotEvery <= 0 || LastSequenceNr - _snapshotAt < _settings.SnapshotEvery)
            return;
        // A snapshot holds the whole conversation. The next one waits until at least as much conversation text has been
        // journaled since the last one as that one held: snapshot bytes per turn then stay flat however long the
        // conversation grows (and recovery replays at most about half of it as events).
        var chars = _state.ConversationChars();
        if (chars - _snapshotChars < _snapshotChars)
            return;
        SaveSnapshot(_state.ToSnapshot());
        _snapshotAt = LastSequenceNr;
        _snapshotChars = chars;
    }

    private void Passivate()
    {
        if (_phase != InstancePhase.HandingOff)
            _phase = InstancePhase.Passivating;
        Context.Parent.Tell(new Passivate(StopInstance.Instance));
    }

    private sealed class HandOffDeadline : INoSerializationVerificationNeeded
    {
        public static readonly HandOffDeadline Instance = new();
    }

    /// <summary>
    /// The outbox answered a run-store write. A confirmation is applied now (no journal row of its own) and written with
    /// the next MessageSubmitted, or captured by the next snapshot; until then a restart only writes the same row once more.
    /// </summary>
    private void OnSyncResult(SyncResult result)
    {
        if (!_outbox.Confirmed(result, _state))
            return;
        _state.Apply(new TaskSynced(result.TaskId));
        AnswerCleanupWaiters(expired: false);
        AnswerRowWaiters(expired: false);
        RegisterWithReaperIfDone();
        StopIfHandedOff();
    }

    /// <summary>A run read waits (bounded) for the rows the outbox still owes, so the caller reads its own writes.</summary>
    private void OnAwaitRunRows(AwaitRunRows cmd)
    {
        var decision = Decide(cmd);
        if (decision is Decision.Answer && OwesProgressRow())
            decision = new Decision.WaitForOutbox(); // the running task's row is written now, so the run and its task exist
        if (Carry(cmd, decision) is not Decision.WaitForOutbox)
            return;
        if (OwesProgressRow())
            WriteFirstProgressRow(_state.Current!.TaskId);
        _outbox.SendAll(_state);
        (_rowWaiters ??= new List<IActorRef>()).Add(Sender);
        if (_rowWaiters.Count == 1)
            Timers.StartSingleTimer("rows-wait", RowsWaitExpired.Instance, _settings.RunReadSyncWait);
    }

    private void AnswerRowWaiters(bool expired)
    {
        if (_rowWaiters is not { Count: > 0 } || (!expired && (_state.Unsynced.Count > 0 || _progressRowWriting)))
            return;
        Timers.Cancel("rows-wait");
        var reply = new RunRowsWritten(_instanceId, _state.Unsynced.Count == 0);
        foreach (var waiter in _rowWaiters)
            waiter.Tell(reply);
        _rowWaiters = null;
    }

    private sealed class RowsWaitExpired : INoSerializationVerificationNeeded
    {
        public static readonly RowsWaitExpired Instance = new();
    }
}


/// <summary>
/// Where an instance is in its life. What a command gets in each phase:
/// <list type="bullet">
/// <item><b>Running</b>: every command is handled.</item>
/// <item><b>Passivating</b> (it asked the shard to stop it): commands that change it or wait on it go back to the shard,
/// which gives them to the next incarnation; reads are answered.</item>
/// <item><b>HandingOff</b> (the shard is moving it while a task runs): the task finishes and its row is written (up to
/// HandOffWait); a new message is refused with <c>instance_busy</c> ("moving to another node"), the rest is handled.</item>
/// <item><b>Reaping</b> (tombstoned, its journal being deleted): every command gets <c>instance_expired</c>.</item>
/// </list>
/// </summary>
public enum InstancePhase
{
    Running,
    Passivating,
    HandingOff,
    Reaping,
}
