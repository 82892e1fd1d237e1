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
using PromptActors.Tools;
using PromptActors.Variables;

namespace PromptActors.Instances;

/// <summary>
/// One execution instance of a prompt (the original design's <c>ExecutionInstance</c>), hosted by Cluster Sharding.
/// Single writer of its variables, conversation, execution tracking and run tracking. Every state change is an event;
/// side effects (the model call, run-store writes, replies that promise durability) happen after the event is persisted.
/// Async work (prompt and variable look-ups, the model stream, run-store writes) comes back as messages.
/// </summary>
/// <remarks>
/// The original design's verbs each have a file: <c>.Start.cs</c> (startInstance), <c>.Execute.cs</c> (executeMessage),
/// <c>.Complete.cs</c> (completeExecution, cancel), <c>.Cleanup.cs</c> (cleanupInstance, reaping), <c>.Stream.cs</c>
/// (reply subscriptions), <c>.Lifecycle.cs</c> (recovery, passivation, hand-off, the outbox's answers) and
/// <c>.Context.cs</c> (the prompt and scoped variables a turn runs with, and the view). The model call is a
/// <see cref="ModelCall"/>, the run-store writes a <see cref="RunOutbox"/>, the subscribers a ReplyFanOut.
/// </remarks>
public sealed partial class ExecutionInstanceActor : UntypedPersistentActor, IWithTimers
{
    public const string PersistenceIdPrefix = "execution-instance-";

    private readonly string _instanceId;
    private readonly InstanceDependencies _deps;
    private readonly InstanceSettings _settings;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    private InstanceState _state = new();
    private Prompt? _prompt;

    private ReplyFanOut? _fanOut; // created with the first subscriber
    private readonly List<IActorRef> _cancelWaiters = new();

    // The running model call (its chunks are not persisted one by one, only its outcome) and the outbox to the run store.
    private ModelCall? _call;
    private readonly RunOutbox _outbox;
    // The task whose progress row has been written (null until ProgressRowDelay passed in its turn).
    private string? _progressRowFor;
    private string? _streamedFor; // the task whose first model call has streamed its first token
    private bool _progressRowWriting; // its first progress write is on its way

    // Running, passivating, handing off or reaping: what a command gets in each phase is in ExecutionInstanceActor.Lifecycle.cs.
    private InstancePhase _phase = InstancePhase.Running;

    // Stream events of the last finished task (memory only: its earlier steps' events, then its last model call's chunks
    // from FirstIndex on), so a late subscriber can resume by index.
    private (string TaskId, List<ReplyEvent>? Earlier, List<string> Chunks, int FirstIndex)? _lastChunks;

    // Cleanups waiting for the outbox to write the last rows (answered when it has, or after CleanupSyncWait).
    private List<IActorRef>? _cleanupWaiters;
    // Run reads waiting for the outbox to write the last rows (answered when it has, or after RunReadSyncWait).
    private List<IActorRef>? _rowWaiters;

    // Sequence number and conversation size (chars) of the last snapshot saved or recovered.
    private long _snapshotAt;
    private long _snapshotChars;

    private IActorRef? _persistReplyTo;

    // Commands delivered to this incarnation but not handled yet (waiting behind a journal write or a look-up). If the
    // actor stops first (a journal failure stops a persistent actor), their callers are told instead of timing out.
    private PromptActors.Variables.InstanceScope? _startingIn; // the scope of a start being handled, before InstanceStarted is journaled
    private readonly List<(IInstanceCommand Command, IActorRef Sender)> _unhandled = new();
    // The turn context being loaded for a stashed command, and what came back (taken when the command is handled again).
    private long _contextRequest;
    private IInstanceCommand? _loadingFor;
    private (IInstanceCommand For, ExecContext? Context, Rejected? Error)? _loaded;
    private DateTimeOffset _recoveredAt;
    private string? _node;

    public ExecutionInstanceActor(string instanceId, InstanceDependencies deps)
    {
        _instanceId = instanceId;
        _deps = deps;
        _settings = deps.Settings;
        if (_settings.JournalPluginId is { } j)
            JournalPluginId = j;
        if (_settings.SnapshotPluginId is { } s)
            SnapshotPluginId = s;
        _outbox = new RunOutbox(deps.RunStore, _settings, _log, Self, () => Timers);

    }

    protected override void OnRecover(object message)
    {
        switch (message)
        {
            case IInstanceEvent e:
                _state.Apply(e);
                break;
            case SnapshotOffer { Snapshot: InstanceSnapshot snapshot } offer:
                _state = InstanceState.FromSnapshot(snapshot);
                _snapshotAt = offer.Metadata.SequenceNr;
                _snapshotChars = _state.ConversationChars();
                break;
            case RecoveryCompleted:
                OnRecovered();
                break;
        }
    }

    public static Props Props(string instanceId, InstanceDependencies deps) =>
        Akka.Actor.Props.Create(() => new ExecutionInstanceActor(instanceId, deps));

    public override string PersistenceId => PersistenceIdPrefix + _instanceId;

    public ITimerScheduler Timers { get; set; } = null!;

    private TimeProvider Time => _deps.Time;

    /// <summary>This node's address (shown in the view; reply stream readers watch it).</summary>
    private string Node => _node ??= ((ExtendedActorSystem)Context.System).Provider.DefaultAddress.ToString();

    /// <summary>
    /// Every message the instance handles, in one switch (a typed handler table per actor cost about 128 bytes per handler
    /// and instance, a tenth of an idle instance's memory): the design's verbs first, then what the model stream, the
    /// outbox and the timers send back, then Akka's own answers.
    /// </summary>
    protected override void OnCommand(object message)
    {
        switch (message)
        {
            case StartInstance cmd: OnStart(cmd); break;
            case ForkInstance cmd: OnFork(cmd); break;
            case ExecuteMessage cmd: OnExecute(cmd); break;
            case UpdateVariables cmd: OnUpdateVariables(cmd); break;
            case GetInstance cmd: OnGetInstance(cmd); break;
            case CancelExecution cmd: OnCancel(cmd); break;
            case CleanupInstance cmd: OnCleanup(cmd); break;
            case SubscribeReplyStream cmd: OnSubscribe(cmd); break;
            case ReapInstance cmd: OnReap(cmd); break;
            case AwaitRunRows cmd: OnAwaitRunRows(cmd); break;
            case CheckTask cmd: OnCheckTask(cmd); break;
            case DecideToolCall cmd: OnDecideToolCall(cmd); break;
            case SubmitToolResults cmd: OnSubmitToolResults(cmd); break;
            case ContinueTurn cmd: OnContinue(cmd); break;

            case ChunksQueued notice: DrainChunks(notice); break;
            case ModelFinished done: OnModelFinished(done); break;
            case ToolDone done: OnToolDone(done); break;
            case PersistToolResults: OnPersistToolResults(); break;
            case ApprovalExpired expired: OnApprovalExpired(expired); break;
            case SyncResult result: OnSyncResult(result); break;
            case RetrySync retry: _outbox.Retry(retry, _state); break;
            case ProgressRowDue due: WriteFirstProgressRow(due.TaskId); break;
            case ProgressRowWritten:
                _progressRowWriting = false;
                AnswerRowWaiters(expired: false);
                break;
            case CleanupWaitExpired: AnswerCleanupWaiters(expired: true); break;
            case RowsWaitExpired: AnswerRowWaiters(expired: true); break;
            case ReplyStreamEnded ended: _fanOut?.Ended(ended.Id); break;
            case ContextLoaded: break; // a late answer to a request that already timed out

            case ReceiveTimeout:
                // A turn that only waits for a decision may leave memory: the decision wakes it again.
                if ((!_state.IsExecuting || MayPassivateWhileWaiting) && _state.Unsynced.Count == 0 && (_fanOut?.Count ?? 0) == 0)
                    Passivate();
                break;
            case StopInstance: OnStop(); break;
            case HandOffDeadline:
                _log.Warning("Instance {0} is handed off with task {1} still running; its next incarnation recovers it (a first model call ends interrupted, tools follow their policies)",
                    _instanceId, _state.Current?.TaskId);
                Context.Stop(Self);
                break;

            case SaveSnapshotSuccess saved:
                DeleteSnapshots(new SnapshotSelectionCriteria(saved.Metadata.SequenceNr - 1));
                break;
            case SaveSnapshotFailure failed:
                _log.Warning("Snapshot of {0} failed: {1}", _instanceId, failed.Cause.Message);
                break;
            case DeleteSnapshotsSuccess: break;
            case DeleteSnapshotsFailure failed:
                _log.Warning("Deleting snapshots of {0} failed: {1}", _instanceId, failed.Cause.Message);
                break;
            case DeleteMessagesSuccess:
                if (_phase == InstancePhase.Reaping)
                    Passivate();
                break;
            case DeleteMessagesFailure failed:
                _log.Warning("Deleting the journal of reaped instance {0} failed: {1}", _instanceId, failed.Cause.Message);
                if (_phase == InstancePhase.Reaping)
                    Passivate();
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void OnGetInstance(GetInstance cmd)
    {
        Handling(cmd);
        if (Carry(cmd) is Decision.Proceed && TryView(cmd, out var view))
            Sender.Tell(view);
    }

    protected override bool AroundReceive(Receive receive, object message)
    {
        if (message is IInstanceCommand command and not ReapInstance && !_unhandled.Exists(u => ReferenceEquals(u.Command, command)))
            _unhandled.Add((command, Sender));
        try
        {
            return base.AroundReceive(receive, message);
        }
        catch (Exception e) when (message is IInstanceCommand)
        {
            // A defect: the caller gets an answer now instead of a timeout, and the restart rebuilds from the journal.
            _log.Error(e, "Instance {0} failed while handling a command", _instanceId);
            Sender.Tell(new Rejected(ErrorCodes.InternalError, "the instance failed while handling this command"));
            _unhandled.RemoveAll(u => ReferenceEquals(u.Command, message));
            throw;
        }
    }

    private void Handling(IInstanceCommand command) => _unhandled.RemoveAll(u => ReferenceEquals(u.Command, command));

    /// <summary>What <see cref="InstanceDecider"/> makes of the command in this state and phase.</summary>
    private Decision Decide(IInstanceCommand cmd) =>
        InstanceDecider.Decide(cmd, _state, new DecisionInputs(_instanceId, _phase, _settings, Time.GetUtcNow(), ReapReference()));

    /// <summary>
    /// Carries out the parts of a decision that are the same for every command (a refusal or an answer is sent, a command
    /// goes back to the shard, the entity passivates) and returns it, so the handler does the rest.
    /// </summary>
    private Decision Carry(IInstanceCommand cmd, Decision decision)
    {
        switch (decision)
        {
            case Decision.Refuse refuse:
                Sender.Tell(refuse.Rejected);
                if (refuse.Passivate)
                    Passivate();
                break;
            case Decision.Answer answer:
                Sender.Tell(answer.Reply);
                if (answer.Passivate)
                    Passivate();
                break;
            case Decision.HandBack:
                // It raced this incarnation's passivation: the shard holds it for the next one.
                Context.Parent.Forward(cmd);
                break;
            case Decision.Ignore { Passivate: true }:
                Passivate();
                break;
        }
        return decision;
    }

    private Decision Carry(IInstanceCommand cmd) => Carry(cmd, Decide(cmd));

    private static string NewId() => Guid.NewGuid().ToString("N");

    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        _log.Error(cause, "Instance {0} could not persist {1}; the command is refused", _instanceId, @event.GetType().Name);
        _persistReplyTo?.Tell(new Rejected(ErrorCodes.StoreUnavailable, "the journal is unavailable; nothing was changed"));
        _persistReplyTo = null;
        base.OnPersistFailure(cause, @event, sequenceNr);
    }

    protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
    {
        _log.Error(cause, "The journal rejected {0} of instance {1}", @event.GetType().Name, _instanceId);
        _persistReplyTo?.Tell(new Rejected(ErrorCodes.StoreUnavailable, "the journal rejected the change; nothing was changed"));
        _persistReplyTo = null;
        base.OnPersistRejected(cause, @event, sequenceNr);
    }

    protected override void OnRecoveryFailure(Exception reason, object? message = null)
    {
        _log.Error(reason, "Instance {0} could not recover from the journal", _instanceId);
        base.OnRecoveryFailure(reason, message);
    }

    protected override void PostStop()
    {
        _deps.Directory?.Unregister(_instanceId, Self);
        // Stopping (passivation, hand-off, shutdown) must also stop the provider call.
        _call?.Cancel();
        _call?.Dispose();
        foreach (var cts in _runningTools?.Values ?? Enumerable.Empty<CancellationTokenSource>())
            cts.Cancel(); // a tool that was started keeps its journaled start: recovery applies its policy
        _fanOut?.Interrupt(ReplyFailed.Interrupted(_state.Current?.TaskId ?? "",
            "the instance stopped while the task was running", _call?.Text ?? ""));
        var refusal = new Rejected(ErrorCodes.StoreUnavailable,
            "the instance stopped before it could handle this command (the journal failed); nothing was changed, retry");
        foreach (var waiter in _cleanupWaiters ?? [])
            waiter.Tell(refusal);
        _cleanupWaiters = null;
        foreach (var waiter in _rowWaiters ?? [])
            waiter.Tell(new RunRowsWritten(_instanceId, false));
        _rowWaiters = null;
        // A cancel was asked for a task the stop interrupts; the caller learns now instead of timing out.
        foreach (var waiter in _cancelWaiters)
            waiter.Tell(new Rejected(ErrorCodes.StoreUnavailable,
                "the instance stopped before the cancellation was recorded; its task ends as interrupted, retry to see it"));
        _cancelWaiters.Clear();
        foreach (var (command, sender) in _unhandled)
        {
            sender.Tell(refusal);
            // A command still in a stash (ours, or Akka's while recovering or persisting) becomes a dead letter once this
            // actor is gone; it was answered now, so it must not be sent on to the next incarnation as well.
            Context.System.EventStream.Publish(new CommandRefused(sender, command.GetType(), command.InstanceId));
        }
        _unhandled.Clear();
        EndTurnTelemetry();
        Telemetry.PromptActorsTelemetry.ActiveInstances.Add(-1);
        base.PostStop();
    }
}

/// <summary>The stop message of passivation and shard hand-off (PoisonPill is unsafe for persistent actors).</summary>
public sealed class StopInstance : IPromptActorsMessage
{
    public static readonly StopInstance Instance = new();
}
