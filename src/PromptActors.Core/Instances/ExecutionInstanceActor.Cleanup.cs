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

/// <summary>cleanupInstance and reaping: the tombstone, once the outbox has written the last rows.</summary>
public sealed partial class ExecutionInstanceActor
{
    private void OnCleanup(CleanupInstance cmd)
    {
        Handling(cmd);
        switch (Carry(cmd))
        {
            case Decision.WaitForOutbox:
                // The last reply's row is usually a moment behind the reply: wait for it (bounded) instead of refusing.
                _outbox.SendAll(_state);
                (_cleanupWaiters ??= new List<IActorRef>()).Add(Sender);
                if (_cleanupWaiters.Count == 1)
                    Timers.StartSingleTimer("cleanup-wait", CleanupWaitExpired.Instance, _settings.CleanupSyncWait);
                break;
            case Decision.Persist:
                Tombstone(Sender);
                break;
        }
    }

    /// <summary>Answers the cleanups that waited for the outbox, once it has written every row (or it gave up waiting).</summary>
    private void AnswerCleanupWaiters(bool expired)
    {
        if (_cleanupWaiters is not { Count: > 0 } || (!expired && _state.Unsynced.Count > 0))
            return;
        Timers.Cancel("cleanup-wait");
        var waiters = _cleanupWaiters.ToArray();
        _cleanupWaiters = null;
        Rejected? refusal = _state.Expired ? null
            : _state.IsExecuting ? new Rejected(ErrorCodes.InstanceBusy, "cancel the running task before cleaning up the instance")
            : _state.Unsynced.Count > 0 ? new Rejected(ErrorCodes.StoreUnavailable,
                "the run store has not yet recorded every task of this instance; try again shortly")
            : null;
        if (refusal is not null)
        {
            foreach (var w in waiters)
                w.Tell(refusal);
            return;
        }
        if (_state.Expired)
        {
            foreach (var w in waiters)
                w.Tell(new InstanceCleanedUp(_instanceId));
            return;
        }
        Tombstone(waiters[0]);
        foreach (var w in waiters.Skip(1))
            w.Tell(new InstanceCleanedUp(_instanceId));
    }

    private void OnReap(ReapInstance cmd)
    {
        switch (Carry(cmd))
        {
            case Decision.LeaveMemory:
                _log.Debug("Passivating {0} instance {1}", _state.Start!.Retain ? "retained" : "completed", _instanceId);
                Passivate();
                break;
            case Decision.Persist:
                Tombstone(null);
                break;
        }
    }

    private void Tombstone(IActorRef? replyTo)
    {
        _persistReplyTo = replyTo;
        Persist(new InstanceReaped(Time.GetUtcNow()), e =>
        {
            _persistReplyTo = null;
            _state.Apply(e);
            _deps.Reaper.Tell(new InstanceActiveNotice(_instanceId));
            replyTo?.Tell(new InstanceCleanedUp(_instanceId));
            _log.Info("Instance {0} reaped", _instanceId);
            Telemetry.PromptActorsTelemetry.ReapedInstances.Add(1);
            if (_settings.DeleteJournalOnReap)
            {
                _phase = InstancePhase.Reaping;
                DeleteSnapshots(new SnapshotSelectionCriteria(LastSequenceNr));
                DeleteMessages(LastSequenceNr - 1);
            }
            else
                Passivate();
        });
    }

    private sealed class CleanupWaitExpired : INoSerializationVerificationNeeded
    {
        public static readonly CleanupWaitExpired Instance = new();
    }
}
