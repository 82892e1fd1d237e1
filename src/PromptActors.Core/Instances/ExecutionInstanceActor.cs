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

/// <summary>
/// One execution instance of a prompt (the original design's <c>ExecutionInstance</c>), hosted by Cluster Sharding.
/// Single writer of its variables, conversation, execution tracking and run tracking. Every state change is an event;
/// side effects (the model call, run-store writes, replies that promise durability) happen after the event is persisted.
/// Async work (prompt and variable look-ups, the model stream, run-store writes) comes back as messages.
/// </summary>
public sealed class ExecutionInstanceActor : ReceivePersistentActor, IWithTimers
{
    public const string PersistenceIdPrefix = "execution-instance-";

    private readonly string _instanceId;
    private readonly InstanceDependencies _deps;
    private readonly InstanceSettings _settings;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    private InstanceState _state = new();
    private Prompt? _prompt;

    // The running model call: not persisted chunk by chunk, only its outcome.
    private CancellationTokenSource? _cts;
    private ModelEntry? _model;
    private IReadOnlyList<ChatMessage>? _request;
    private readonly StringBuilder _text = new();
    private List<string> _chunks = new();
    private long _startedAt;
    private long? _firstTokenAt;
    private ReplyFanOut? _fanOut; // created with the first subscriber
    private readonly List<IActorRef> _cancelWaiters = new();

    // Chunks of the last finished task (memory only), so a late subscriber can resume by index.
    private (string TaskId, List<string> Chunks)? _lastChunks;

    // This incarnation asked the shard to passivate it (see HandedBackToShard).
    private bool _passivating;

    // Cleanups waiting for the outbox to write the last rows (answered when it has, or after CleanupSyncWait).
    private List<IActorRef>? _cleanupWaiters;

    // Chunks of the running task on their way from the model stream.
    private ChunkInbox? _chunkInbox;

    // The last best-effort progress write (pending, streaming) of this instance; the next one starts after it.
    private Task _progressWrite = Task.CompletedTask;

    // Sequence number and conversation size (chars) of the last snapshot saved or recovered.
    private long _snapshotAt;
    private long _snapshotChars;

    // Tasks whose final row the run store confirmed since the last MessageSubmitted (which records them).
    private List<string>? _syncedNotJournaled;

    // The outbox: run-store writes in flight and their retry counts.
    private readonly HashSet<string> _syncInFlight = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _syncAttempts = new(StringComparer.Ordinal);

    private IActorRef? _persistReplyTo;

    // Commands delivered to this incarnation but not handled yet (waiting behind a journal write or a look-up). If the
    // actor stops first (a journal failure stops a persistent actor), their callers are told instead of timing out.
    private readonly List<(IInstanceCommand Command, IActorRef Sender)> _unhandled = new();
    private long _contextRequest;
    private Action<ExecContext>? _contextThen;
    private IActorRef? _contextReplyTo;
    private bool _reapedAndDeleting;
    private DateTimeOffset _recoveredAt;
    private string? _node;
    private bool _stopRequested; // told to stop (hand-off) while a task ran: stop once it is recorded

    public ExecutionInstanceActor(string instanceId, InstanceDependencies deps)
    {
        _instanceId = instanceId;
        _deps = deps;
        _settings = deps.Settings;
        if (_settings.JournalPluginId is { } j)
            JournalPluginId = j;
        if (_settings.SnapshotPluginId is { } s)
            SnapshotPluginId = s;

        Recover<SnapshotOffer>(offer =>
        {
            if (offer.Snapshot is InstanceSnapshot snapshot)
            {
                _state = InstanceState.FromSnapshot(snapshot);
                _snapshotAt = offer.Metadata.SequenceNr;
                _snapshotChars = _state.ConversationChars();
            }
        });
        Recover<IInstanceEvent>(e => _state.Apply(e));
        Recover<RecoveryCompleted>(_ => OnRecovered());

        Active();
    }

    public static Props Props(string instanceId, InstanceDependencies deps) =>
        Akka.Actor.Props.Create(() => new ExecutionInstanceActor(instanceId, deps));

    public override string PersistenceId => PersistenceIdPrefix + _instanceId;

    public ITimerScheduler Timers { get; set; } = null!;

    private TimeProvider Time => _deps.Time;

    /// <summary>This node's address (shown in the view; reply stream readers watch it).</summary>
    private string Node => _node ??= ((ExtendedActorSystem)Context.System).Provider.DefaultAddress.ToString();

    // ---------------------------------------------------------------- behaviours

    private void Active()
    {
        Command<StartInstance>(OnStart);
        Command<ExecuteMessage>(OnExecute);
        Command<UpdateVariables>(OnUpdateVariables);
        Command<GetInstance>(cmd =>
        {
            Handling(cmd);
            if (Guard())
                ReplyView(Sender);
        });
        Command<CancelExecution>(OnCancel);
        Command<CleanupInstance>(OnCleanup);
        Command<SubscribeReplyStream>(OnSubscribe);
        Command<ReapInstance>(OnReap);

        Command<ChunksQueued>(q => DrainChunks(q.Inbox));
        Command<ModelFinished>(OnModelFinished);
        Command<SyncResult>(OnSyncResult);
        Command<CleanupWaitExpired>(_ => AnswerCleanupWaiters(expired: true));
        Command<RetrySync>(r =>
        {
            if (_state.Unsynced.TryGetValue(r.TaskId, out var record))
                Sync(record);
        });

        Command<ReplyStreamEnded>(e => _fanOut?.Ended(e.Id));
        Command<ReceiveTimeout>(_ =>
        {
            if (!_state.IsExecuting && _state.Unsynced.Count == 0 && (_fanOut?.Count ?? 0) == 0)
                Passivate();
        });
        Command<StopInstance>(_ => OnStop());
        Command<HandOffDeadline>(_ =>
        {
            _log.Warning("Instance {0} is handed off with task {1} still running; it will be marked interrupted",
                _instanceId, _state.Current?.TaskId);
            Context.Stop(Self);
        });
        Command<CheckTask>(OnCheckTask);

        Command<SaveSnapshotSuccess>(s =>
            DeleteSnapshots(new SnapshotSelectionCriteria(s.Metadata.SequenceNr - 1)));
        Command<SaveSnapshotFailure>(f => _log.Warning("Snapshot of {0} failed: {1}", _instanceId, f.Cause.Message));
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(f => _log.Warning("Deleting snapshots of {0} failed: {1}", _instanceId, f.Cause.Message));
        Command<DeleteMessagesSuccess>(_ =>
        {
            if (_reapedAndDeleting)
                Passivate();
        });
        Command<DeleteMessagesFailure>(f =>
        {
            _log.Warning("Deleting the journal of reaped instance {0} failed: {1}", _instanceId, f.Cause.Message);
            if (_reapedAndDeleting)
                Passivate();
        });
        Command<ContextLoaded>(_ => { }); // a late answer to a request that already timed out
    }

    /// <summary>While waiting for the prompt and the scoped variables, every other message waits too (one writer, in order).</summary>
    private void AwaitingContext()
    {
        Command<ContextLoaded>(loaded =>
        {
            if (loaded.Request != _contextRequest)
                return;
            var then = _contextThen!;
            var replyTo = _contextReplyTo!;
            _contextThen = null;
            _contextReplyTo = null;
            Become(Active);
            Stash.UnstashAll();

            if (loaded.Error is { } error)
            {
                replyTo.Tell(error);
                if (!_state.Started)
                    Passivate();
                return;
            }
            _prompt = loaded.Context!.Prompt;
            try
            {
                then(loaded.Context);
            }
            catch (Exception e)
            {
                // A defect: the caller gets an answer now instead of a timeout, and the restart rebuilds from the journal.
                _log.Error(e, "Instance {0} failed while handling a command", _instanceId);
                replyTo.Tell(new Rejected(ErrorCodes.InternalError, "the instance failed while handling this command"));
                throw;
            }
        });
        CommandAny(_ => Stash.Stash());
    }

    // ---------------------------------------------------------------- commands

    protected override bool AroundReceive(Receive receive, object message)
    {
        if (message is IInstanceCommand command and not ReapInstance && !_unhandled.Exists(u => ReferenceEquals(u.Command, command)))
            _unhandled.Add((command, Sender));
        return base.AroundReceive(receive, message);
    }

    private void Handling(IInstanceCommand command) => _unhandled.RemoveAll(u => ReferenceEquals(u.Command, command));

    /// <summary>Refuses commands for an instance that does not exist (or no longer does). True when the instance is live.</summary>
    private bool Guard()
    {
        if (_state.Expired)
        {
            Sender.Tell(new Rejected(ErrorCodes.InstanceExpired, $"instance '{_instanceId}' has expired and was cleaned up"));
            if (!_reapedAndDeleting)
                Passivate();
            return false;
        }
        if (!_state.Started)
        {
            Sender.Tell(new Rejected(ErrorCodes.InstanceNotFound, $"instance '{_instanceId}' does not exist"));
            Passivate();
            return false;
        }
        return true;
    }

    private void OnStart(StartInstance cmd)
    {
        Handling(cmd);
        if (_state.Expired)
        {
            Sender.Tell(new Rejected(ErrorCodes.InstanceExpired, $"instance '{_instanceId}' has expired and was cleaned up"));
            return;
        }
        if (_state.Started)
        {
            Sender.Tell(new Rejected(ErrorCodes.InstanceExists, $"instance '{_instanceId}' already exists"));
            return;
        }
        var errors = InstanceInput.CheckStart(cmd, _settings);
        if (errors.Count > 0)
        {
            Sender.Tell(new Rejected(ErrorCodes.ValidationFailed, string.Join("; ", errors)));
            Passivate();
            return;
        }

        var replyTo = Sender;
        var config = cmd.ExecutionConfig ?? ExecutionConfig.Default;
        LoadContext(cmd.PromptId, cmd.PromptVersion, cmd.Scope, replyTo, ctx =>
        {
            var prompt = ctx.Prompt;
            var settings = cmd.Model is null ? prompt.Settings : prompt.Settings with { Model = cmd.Model };
            if (!TryModel(prompt, settings, out var model, out var rejected))
            {
                replyTo.Tell(rejected);
                Passivate();
                return;
            }
            var userValues = cmd.Variables is null
                ? new Dictionary<string, string>(StringComparer.Ordinal)
                : new Dictionary<string, string>(cmd.Variables, StringComparer.Ordinal);

            // With autoRun the first message is part of the start: refuse the start if it cannot run.
            string? taskId = null, runId = null;
            BuiltMessages? built = null;
            if (config.AutoRun)
            {
                taskId = NewId();
                runId = config.TrackInRuns ? NewId() : null;
                built = Build(prompt, ctx.Scoped, userValues, [], null, runId, config.ApplyVariables);
                if (!built.Ok)
                {
                    replyTo.Tell(Refusal(built));
                    Passivate();
                    return;
                }
            }

            var started = new InstanceStarted(_instanceId, prompt.Id, prompt.Version, cmd.Scope, userValues, config,
                cmd.Source ?? new RunSource("prompt", prompt.Id), cmd.RunName, cmd.Retain, settings, Time.GetUtcNow());
            _persistReplyTo = replyTo;
            Persist(started, e =>
            {
                _persistReplyTo = null;
                _state.Apply(e);
                _log.Info("Instance {0} started from prompt {1} v{2}", _instanceId, prompt.Id, prompt.Version);
                if (built is not null)
                    Submit(taskId!, runId, null, built.Messages, model, replyTo, replyWithView: true, ctx);
                else
                {
                    replyTo.Tell(BuildView(ctx));
                    MaybeSnapshot();
                }
            });
        });
    }

    /// <summary>
    /// Once this incarnation asked to be passivated, commands that change it (or wait on it) go back to the shard, which
    /// holds them until this incarnation stopped and gives them to the next one: a message that raced the passivation is
    /// not run by an instance about to stop. (A check in each handler rather than a handler of its own: a predicate
    /// handler would cost every instance its own compiled match.)
    /// </summary>
    private bool HandedBackToShard(IInstanceCommand cmd)
    {
        if (!_passivating || !_state.Started || _state.Expired)
            return false;
        Context.Parent.Forward(cmd);
        return true;
    }

    private void OnExecute(ExecuteMessage cmd)
    {
        Handling(cmd);
        if (HandedBackToShard(cmd))
            return;
        if (!Guard())
            return;
        if (cmd.RequestId is { } requestId && _state.RecentRequests.Find(r => r.RequestId == requestId) is { } repeat)
        {
            // A retry of a request this instance already accepted: the same task, not a second one.
            Sender.Tell(new MessageAccepted(_instanceId, repeat.TaskId, _state.RunId));
            return;
        }
        if (_state.IsExecuting)
        {
            Sender.Tell(new Rejected(ErrorCodes.InstanceBusy, $"instance '{_instanceId}' is executing task '{_state.Current!.TaskId}'"));
            return;
        }
        if (_stopRequested)
        {
            Sender.Tell(new Rejected(ErrorCodes.InstanceBusy, $"instance '{_instanceId}' is moving to another node; send the message again"));
            return;
        }
        if (_state.HasCompletedTurn && !_state.Config.AllowChat)
        {
            Sender.Tell(new Rejected(ErrorCodes.ChatNotAllowed, "this instance does not allow follow-up messages (allowChat is off)"));
            return;
        }
        if (InstanceInput.CheckUserInput(cmd.UserInput, required: _state.HasCompletedTurn, _settings) is { } inputError)
        {
            Sender.Tell(new Rejected(ErrorCodes.ValidationFailed, inputError));
            return;
        }

        var replyTo = Sender;
        var start = _state.Start!;
        LoadContext(start.PromptId, start.PromptVersion, start.Scope, replyTo, ctx =>
        {
            if (!TryModel(ctx.Prompt, _state.Start!.Settings, out var model, out var rejected))
            {
                replyTo.Tell(rejected);
                return;
            }
            var taskId = NewId();
            var runId = _state.RunId ?? (_state.Config.TrackInRuns ? NewId() : null);
            var built = Build(ctx.Prompt, ctx.Scoped, _state.UserValues, _state.Conversation, cmd.UserInput, runId,
                _state.Config.ApplyVariables);
            if (!built.Ok)
            {
                replyTo.Tell(Refusal(built));
                return;
            }
            Submit(taskId, _state.RunId is null ? runId : null, cmd.UserInput, built.Messages, model, replyTo, replyWithView: false, ctx,
                cmd.RequestId);
        });
    }

    private void OnUpdateVariables(UpdateVariables cmd)
    {
        Handling(cmd);
        if (HandedBackToShard(cmd))
            return;
        if (!Guard())
            return;
        var set = cmd.Set ?? new Dictionary<string, string>();
        var removed = cmd.Remove ?? Array.Empty<string>();
        var errors = InstanceInput.CheckVariables(set, removed, _settings);
        var resulting = _state.UserValues.Keys.Except(removed).Union(set.Keys).Count();
        if (resulting > _settings.MaxVariables)
            errors.Add($"at most {_settings.MaxVariables} variables may be set");
        if (errors.Count > 0)
        {
            Sender.Tell(new Rejected(ErrorCodes.ValidationFailed, string.Join("; ", errors)));
            return;
        }
        var replyTo = Sender;
        _persistReplyTo = replyTo;
        Persist(new VariablesUpdated(new Dictionary<string, string>(set, StringComparer.Ordinal), removed.ToArray(), Time.GetUtcNow()), e =>
        {
            _persistReplyTo = null;
            _state.Apply(e);
            MaybeSnapshot();
            ReplyView(replyTo);
        });
    }

    private void OnCancel(CancelExecution cmd)
    {
        Handling(cmd);
        if (!Guard())
            return;
        if (!_state.IsExecuting || _cts is null)
        {
            Sender.Tell(new CancelResult(_instanceId, null, false));
            return;
        }
        _cancelWaiters.Add(Sender);
        _cts.Cancel();
    }

    private void OnCleanup(CleanupInstance cmd)
    {
        Handling(cmd);
        if (HandedBackToShard(cmd))
            return;
        if (!Guard())
            return;
        if (_state.IsExecuting)
        {
            Sender.Tell(new Rejected(ErrorCodes.InstanceBusy, "cancel the running task before cleaning up the instance"));
            return;
        }
        if (_state.Unsynced.Count > 0)
        {
            // The last reply's row is usually a moment behind the reply: wait for it (bounded) instead of refusing.
            SyncAll();
            (_cleanupWaiters ??= new List<IActorRef>()).Add(Sender);
            if (_cleanupWaiters.Count == 1)
                Timers.StartSingleTimer("cleanup-wait", CleanupWaitExpired.Instance, _settings.CleanupSyncWait);
            return;
        }
        Tombstone(Sender);
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
        if (_state.Expired || !_state.Started)
        {
            if (!_reapedAndDeleting)
                Passivate();
            return;
        }
        // Only a still-completed instance is reaped; one that moved on since the reaper looked is left alone.
        if (_state.Status != InstanceStatus.Completed || ReapReference() != cmd.CompletedAt || _state.IsExecuting
            || _state.Unsynced.Count > 0)
            return;
        if (_state.Start!.Retain || (cmd.OverLimit && _state.Config.AllowChat))
        {
            _log.Debug("Passivating {0} instance {1}", _state.Start.Retain ? "retained" : "completed", _instanceId);
            Passivate();
            return;
        }
        Tombstone(null);
    }

    /// <summary>
    /// Passivation, shard hand-off and shutdown stop the instance. During a hand-off (a node leaving, a rebalance) a running
    /// task is let finish and its row recorded first, for up to <see cref="InstanceSettings.HandOffWait"/>, so a graceful
    /// leave costs no reply; subscribers on other nodes keep streaming meanwhile.
    /// </summary>
    private void OnStop()
    {
        if (_settings.HandOffWait > TimeSpan.Zero && (_state.IsExecuting || _state.Unsynced.Count > 0) && !_state.Expired)
        {
            if (!_stopRequested)
            {
                _stopRequested = true;
                _log.Info("Instance {0} is being handed off; letting task {1} finish first", _instanceId, _state.Current?.TaskId);
                Timers.StartSingleTimer("hand-off", HandOffDeadline.Instance, _settings.HandOffWait);
                SyncAll();
            }
            return;
        }
        Context.Stop(Self);
    }

    /// <summary>Stops a handed-off instance once its task is finished and recorded.</summary>
    private void StopIfHandedOff()
    {
        if (_stopRequested && !_state.IsExecuting && _state.Unsynced.Count == 0)
            Context.Stop(Self);
    }

    private void OnCheckTask(CheckTask cmd)
    {
        Handling(cmd);
        if (_state.Expired || !_state.Started)
        {
            Sender.Tell(new TaskUnknown(_instanceId, cmd.TaskId));
            if (!_reapedAndDeleting)
                Passivate();
            return;
        }
        if (_state.Current?.TaskId == cmd.TaskId)
            return; // running here
        if (_state.Unsynced.TryGetValue(cmd.TaskId, out var record))
        {
            Sync(record);
            return;
        }
        // No outcome of this task will ever come from here (the journal lacks it): the sweeper closes the row.
        _log.Info("Instance {0} knows no unfinished or unrecorded task {1}; the sweeper closes its row as interrupted", _instanceId, cmd.TaskId);
        Sender.Tell(new TaskUnknown(_instanceId, cmd.TaskId));
    }

    private void OnSubscribe(SubscribeReplyStream cmd)
    {
        Handling(cmd);
        if (HandedBackToShard(cmd))
            return;
        if (!Guard())
            return;
        // Resuming another task's stream: the index belongs to that task, so this one is sent from its start. A task this
        // instance does not know is refused: the current or last reply is not the one the client asked to resume.
        var latest = _state.Current?.TaskId ?? _state.LastTask?.TaskId;
        if (cmd.ResumeTaskId is { } resume && resume != latest && !_state.KnowsTask(resume))
        {
            Sender.Tell(new Rejected(ErrorCodes.TaskNotFound,
                $"instance '{_instanceId}' has no task '{resume}' to resume; read the instance for its conversation"));
            return;
        }
        var from = cmd.ResumeTaskId is { } resumed && resumed != latest
            ? 0
            : (int)Math.Clamp(cmd.FromIndex, 0, int.MaxValue);
        var fanOut = _fanOut ??= new ReplyFanOut(_deps.Materializer, _settings.SubscriberBuffer, Self);
        IReadOnlyList<ReplyEvent> prefix;
        SubscriptionMode mode;
        string? taskId;
        if (_state.Current is { } current)
        {
            taskId = current.TaskId;
            (prefix, mode) = (Chunks(current.TaskId, _chunks, from), SubscriptionMode.Live);
        }
        else if (_state.LastTask is { } last)
        {
            taskId = last.TaskId;
            var replay = _lastChunks is { } kept && kept.TaskId == last.TaskId
                ? Chunks(last.TaskId, kept.Chunks, from)
                // After a restart the chunk boundaries are gone; the text is replayed as one chunk.
                : from == 0 && last.Text.Length > 0 ? [new ReplyChunk(last.TaskId, 0, last.Text)] : [];
            (prefix, mode) = ([.. replay, Terminal(last)], SubscriptionMode.Replay);
        }
        else
        {
            taskId = null;
            (prefix, mode) = ([], SubscriptionMode.NextTask);
        }
        if (Sender.Path.Address.HasLocalScope)
        {
            Sender.Tell(new LocalReplyStream(_instanceId, taskId, fanOut.SubscribeLocal(prefix, mode)));
            return;
        }
        var stream = fanOut.Subscribe(prefix, mode);
        var instanceId = _instanceId;
        var node = Node;
        stream.PipeTo(Sender,
            success: sourceRef => new ReplyStreamOffer(instanceId, taskId, sourceRef, node),
            failure: e => new Rejected(ErrorCodes.StoreUnavailable, "the reply stream could not be opened: " + e.GetBaseException().Message));
    }

    private static List<ReplyEvent> Chunks(string taskId, List<string> chunks, int from)
    {
        var events = new List<ReplyEvent>(Math.Max(0, chunks.Count - from));
        for (var i = from; i < chunks.Count; i++)
            events.Add(new ReplyChunk(taskId, i, chunks[i]));
        return events;
    }

    // ---------------------------------------------------------------- execution

    private void Submit(string taskId, string? newRunId, string? userInput, IReadOnlyList<ChatMessage> messages,
        ModelEntry model, IActorRef replyTo, bool replyWithView, ExecContext ctx, string? requestId = null)
    {
        var acknowledged = _syncedNotJournaled is { Count: > 0 } synced ? synced.ToArray() : null;
        var submitted = new MessageSubmitted(taskId, newRunId, userInput, model.Id, model.Provider, Time.GetUtcNow(), requestId,
            acknowledged);
        _persistReplyTo = replyTo;
        Persist(submitted, e =>
        {
            _persistReplyTo = null;
            if (acknowledged is not null)
                _syncedNotJournaled?.RemoveAll(acknowledged.Contains);
            _state.Apply(e);
            _deps.Reaper.Tell(new InstanceActiveNotice(_instanceId));
            StartModel(taskId, messages, model);
            if (replyWithView)
                replyTo.Tell(BuildView(ctx));
            else
                replyTo.Tell(new MessageAccepted(_instanceId, taskId, _state.RunId));
            WriteProgress(RunTaskStatus.Pending);
            MaybeSnapshot();
        });
    }

    private void StartModel(string taskId, IReadOnlyList<ChatMessage> messages, ModelEntry model)
    {
        _cts = new CancellationTokenSource();
        _model = model;
        _request = messages;
        _text.Clear();
        _chunks = new List<string>();
        _firstTokenAt = null;
        _startedAt = Time.GetTimestamp();

        _fanOut?.TaskStarted();

        var options = ChatOptionsMapper.ToChatOptions(_state.Start!.Settings, model.Id);
        var self = Self;
        var token = _cts.Token;
        var time = Time;
        var inbox = _chunkInbox = new ChunkInbox(taskId);
        _ = Task.Run(() => StreamModelAsync(self, inbox, model.Client, messages, options, time, token), CancellationToken.None);
    }

    private static async Task StreamModelAsync(IActorRef self, ChunkInbox inbox, IChatClient client, IReadOnlyList<ChatMessage> messages,
        ChatOptions options, TimeProvider time, CancellationToken token)
    {
        var taskId = inbox.TaskId;
        TokenUsage? usage = null;
        try
        {
            await foreach (var update in client.GetStreamingResponseAsync(messages, options, token).WithCancellation(token))
            {
                foreach (var content in update.Contents)
                {
                    if (content is UsageContent u)
                        usage = new TokenUsage(u.Details.InputTokenCount ?? 0, u.Details.OutputTokenCount ?? 0,
                            u.Details.CachedInputTokenCount ?? 0);
                }
                var text = update.Text;
                if (!string.IsNullOrEmpty(text))
                    inbox.Add(self, text, time);
            }
            self.Tell(new ModelFinished(taskId, usage, null, Cancelled: false, time.GetTimestamp()));
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            self.Tell(new ModelFinished(taskId, usage, null, Cancelled: true, time.GetTimestamp()));
        }
        catch (Exception ex)
        {
            self.Tell(new ModelFinished(taskId, usage, ex.GetBaseException().Message, Cancelled: false, time.GetTimestamp()));
        }
    }

    /// <summary>Takes every chunk the model stream has queued for the current task, in order.</summary>
    private void DrainChunks(ChunkInbox inbox)
    {
        if (_chunkInbox != inbox || _state.Current?.TaskId != inbox.TaskId)
            return;
        inbox.Rearm();
        while (inbox.TryTake(out var text))
        {
            if (_firstTokenAt is null)
            {
                _firstTokenAt = inbox.FirstChunkAt;
                _state.MarkStreaming();
                WriteProgress(RunTaskStatus.Streaming);
            }
            _text.Append(text);
            _chunks.Add(text);
            _fanOut?.Publish(new ReplyChunk(inbox.TaskId, _chunks.Count - 1, text));
        }
    }

    private void OnModelFinished(ModelFinished done)
    {
        if (_state.Current?.TaskId != done.TaskId)
            return;
        if (_chunkInbox is { } inbox)
            DrainChunks(inbox); // every chunk the stream queued comes before its end
        _chunkInbox = null;
        var text = _text.ToString();
        var ttft = _firstTokenAt is { } first ? Time.GetElapsedTime(_startedAt, first).TotalMilliseconds : (double?)null;
        var total = Time.GetElapsedTime(_startedAt, done.Timestamp).TotalMilliseconds;
        var usage = done.Usage ?? EstimateUsage(text);
        var cost = CostCalculator.Compute(usage, _model?.Pricing ?? ModelPricing.Free);
        var now = Time.GetUtcNow();

        IInstanceEvent outcome = done switch
        {
            { Cancelled: true } => new ExecutionCancelled(done.TaskId, text, usage, cost, ttft, total, now),
            { Error: { } error } => new ExecutionFailed(done.TaskId, ErrorCodes.ProviderError, error, text, usage, cost, ttft, total, now),
            _ => new ExecutionCompleted(done.TaskId, text, usage, cost, ttft, total, now),
        };
        if (done.Error is { } err)
            _log.Warning("Task {0} of instance {1} failed: {2}", done.TaskId, _instanceId, err);

        Persist(outcome, e =>
        {
            _state.Apply(e);
            _lastChunks = (done.TaskId, _chunks);
            _fanOut?.Complete(Terminal(_state.LastTask!));
            foreach (var w in _cancelWaiters)
                w.Tell(new CancelResult(_instanceId, done.TaskId, e is ExecutionCancelled));
            _cancelWaiters.Clear();
            _cts?.Dispose();
            _cts = null;
            _request = null;
            SyncAll();
            RegisterWithReaperIfDone();
            MaybeSnapshot();
            StopIfHandedOff();
        });
    }

    private TokenUsage EstimateUsage(string output)
    {
        long input = 0;
        if (_request is not null)
        {
            foreach (var m in _request)
                input += TokenCounter.Count(m.Text);
        }
        return new TokenUsage(input, TokenCounter.Count(output), 0, Estimated: true);
    }

    private static ReplyEvent Terminal(FinishedTask task) => task.Outcome == TaskOutcome.Completed
        ? new ReplyCompleted(task.TaskId, task.Text, task.Stats)
        : new ReplyFailed(task.TaskId, task.ErrorCode ?? ErrorCodes.ProviderError, task.ErrorDetail ?? "", task.Text);

    // ---------------------------------------------------------------- recovery, reaping, outbox

    private void OnRecovered()
    {
        SetReceiveTimeout(_settings.IdlePassivation);
        _recoveredAt = Time.GetUtcNow();
        if (_state.Expired || !_state.Started)
            return;
        if (_state.Current is { } interrupted)
        {
            // The node stopped while this task ran: its outcome is unknown, so it is marked failed and the caller may retry.
            var failed = new ExecutionFailed(interrupted.TaskId, ErrorCodes.Interrupted,
                "the task was interrupted (the instance stopped while it was running); send the message again to retry",
                "", TokenUsage.None, 0m, null, (Time.GetUtcNow() - interrupted.SubmittedAt).TotalMilliseconds, Time.GetUtcNow());
            _log.Warning("Instance {0} recovered with unfinished task {1}; marking it interrupted", _instanceId, interrupted.TaskId);
            Persist(failed, e =>
            {
                _state.Apply(e);
                SyncAll();
                MaybeSnapshot();
            });
            return;
        }
        SyncAll();
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
            if (_settings.DeleteJournalOnReap)
            {
                _reapedAndDeleting = true;
                DeleteSnapshots(new SnapshotSelectionCriteria(LastSequenceNr));
                DeleteMessages(LastSequenceNr - 1);
            }
            else
                Passivate();
        });
    }

    private void SyncAll()
    {
        foreach (var record in _state.Unsynced.Values.ToArray())
            Sync(record);
    }

    private void Sync(RunTaskRecord record)
    {
        if (!_syncInFlight.Add(record.TaskId))
            return;
        var taskId = record.TaskId;
        _deps.RunStore.UpsertTaskAsync(record).PipeTo(Self,
            success: () => new SyncResult(taskId, null),
            failure: e => new SyncResult(taskId, e.GetBaseException().Message));
    }

    private void OnSyncResult(SyncResult result)
    {
        _syncInFlight.Remove(result.TaskId);
        if (!_state.Unsynced.ContainsKey(result.TaskId))
            return;
        if (result.Error is { } error)
        {
            var attempt = _syncAttempts.TryGetValue(result.TaskId, out var a) ? a + 1 : 1;
            _syncAttempts[result.TaskId] = attempt;
            var delay = Backoff(attempt);
            _log.Warning("Recording task {0} in the run store failed (attempt {1}), retrying in {2}: {3}",
                result.TaskId, attempt, delay, error);
            Timers.StartSingleTimer("sync-" + result.TaskId, new RetrySync(result.TaskId), delay);
            return;
        }
        _syncAttempts.Remove(result.TaskId);
        // No journal row of its own: the acknowledgement is applied now and written with the next MessageSubmitted (or
        // captured by the next snapshot). Until then a restart only writes the same final row once more.
        _state.Apply(new TaskSynced(result.TaskId));
        (_syncedNotJournaled ??= new List<string>()).Add(result.TaskId);
        AnswerCleanupWaiters(expired: false);
        RegisterWithReaperIfDone();
        StopIfHandedOff();
    }

    private TimeSpan Backoff(int attempt)
    {
        var ms = _settings.SyncRetryMin.TotalMilliseconds * Math.Pow(2, Math.Min(attempt - 1, 20));
        ms = Math.Min(ms, _settings.SyncRetryMax.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(ms * (0.8 + Random.Shared.NextDouble() * 0.4));
    }

    /// <summary>Best-effort progress rows (pending, streaming); the final row goes through the outbox.</summary>
    private void WriteProgress(RunTaskStatus status)
    {
        if (!_state.Config.TrackInRuns || _state.RunId is null || _state.Current is not { } current)
            return;
        var now = Time.GetUtcNow();
        var record = new RunTaskRecord(_state.RunInfo(_state.Start!), current.TaskId, current.Provider, current.Model,
            current.UserMessage, status, null, null, null, 0, 0, 0, 0m, null, null, current.SubmittedAt, now, null, current.Sequence);
        var log = _log;
        var store = _deps.RunStore;
        // One after another, so the streaming mark never lands before the pending row it updates.
        _progressWrite = _progressWrite.ContinueWith(_ => status == RunTaskStatus.Pending
                ? store.UpsertTaskAsync(record)
                : store.MarkStreamingAsync(record), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default)
            .Unwrap()
            .ContinueWith(t =>
            {
                if (t.IsCompletedSuccessfully)
                    return;
                // A store that is shutting down refuses new writes: expected while the node stops (the final row is in the
                // journal's unsynced list and is written after the restart), so it is not a warning per task.
                if (t.Exception?.GetBaseException() is ObjectDisposedException)
                    log.Debug("Progress of task {0} not recorded: the run store is shut down", record.TaskId);
                else
                    log.Warning("Recording progress of task {0} failed: {1}", record.TaskId, t.Exception?.GetBaseException().Message);
            }, TaskContinuationOptions.ExecuteSynchronously);
    }

    // ---------------------------------------------------------------- helpers

    private void LoadContext(string promptId, int? version, InstanceScope scope, IActorRef replyTo, Action<ExecContext> then)
    {
        var request = ++_contextRequest;
        var timeout = _settings.AskTimeout;
        Task<object> promptTask = _prompt is { } cached && cached.Id == promptId && (version is null ? false : cached.Version == version)
            ? Task.FromResult<object>(new PromptFound(cached))
            : _deps.PromptCache.Ask<object>(new GetPrompt(promptId, version), timeout);
        var scopedTask = _deps.ScopedVariables.Ask<object>(new GetScopedVariables(scope), timeout);

        ContextLoaded.LoadAsync(request, promptId, version, promptTask, scopedTask).PipeTo(Self);
        _contextThen = then;
        _contextReplyTo = replyTo;
        Become(AwaitingContext);
    }

    private bool TryModel(Prompt prompt, PromptSettings settings, out ModelEntry model, out Rejected rejected)
    {
        var modelId = settings.Model ?? _deps.Models.DefaultModelId;
        if (_deps.Models.TryGet(modelId, out model))
        {
            rejected = null!;
            return true;
        }
        rejected = new Rejected(ErrorCodes.ValidationFailed,
            $"prompt '{prompt.Id}' v{prompt.Version} runs on model '{modelId}', which is not configured (known: {string.Join(", ", _deps.Models.ModelIds)})");
        return false;
    }

    private BuiltMessages Build(Prompt prompt, ScopedVariableValues scoped, IReadOnlyDictionary<string, string> userValues,
        IReadOnlyList<ConversationMessage> conversation, string? userInput, string? runId, bool apply)
    {
        var merged = Merge(prompt, scoped, userValues, conversation.Count, runId);
        return MessageBuilder.Build(prompt, conversation, userInput, merged, apply, _settings.MaxRenderedChars);
    }

    private MergedVariables Merge(Prompt prompt, ScopedVariableValues scoped, IReadOnlyDictionary<string, string> userValues,
        int messageCount, string? runId) =>
        MergedVariables.Merge(prompt.DefaultValues(), scoped.User, scoped.Org, scoped.Project, userValues,
            ComputedVariables.Create(Time, _instanceId, prompt.Id, runId, messageCount));

    private Rejected Refusal(BuiltMessages built) => built.TooLarge
        ? new(ErrorCodes.ValidationFailed,
            $"this turn's messages would be longer than {_settings.MaxRenderedChars} characters once their variables are filled in " +
            "(PromptActors:Instances:MaxRenderedChars)")
        : new(ErrorCodes.MissingVariables, "variables without a value: " + string.Join(", ", built.Missing), built.Missing);

    private void ReplyView(IActorRef replyTo)
    {
        if (!_state.Config.ShowVariables)
        {
            replyTo.Tell(BuildView(null));
            return;
        }
        var start = _state.Start!;
        LoadContext(start.PromptId, start.PromptVersion, start.Scope, replyTo, ctx => replyTo.Tell(BuildView(ctx)));
    }

    private InstanceView BuildView(ExecContext? ctx)
    {
        var start = _state.Start!;
        VariablesView? variables = null;
        if (start.Config.ShowVariables && ctx is not null)
        {
            var merged = Merge(ctx.Prompt, ctx.Scoped, _state.UserValues, _state.Conversation.Count, _state.RunId);
            variables = new VariablesView(
                merged.Values.ToDictionary(kv => kv.Key, kv => kv.Value.Value, StringComparer.Ordinal),
                merged.Values.ToDictionary(kv => kv.Key, kv => kv.Value.Source, StringComparer.Ordinal),
                new Dictionary<string, string>(_state.UserValues, StringComparer.Ordinal));
        }
        return new InstanceView(
            _instanceId, start.PromptId, start.PromptVersion, _state.Status, start.Scope, start.Config, start.Retain,
            _state.Conversation.ToArray(), variables,
            new ExecutionView(_state.Current?.TaskId, _state.LastTask?.TaskId, _state.LastStats, _state.LastError),
            new RunTrackingView(_state.RunId, start.Source.Type, start.Source.Id, start.RunName, _state.TotalTokens,
                _state.TotalCost, _state.TaskCount),
            _state.IsExecuting ? _text.ToString() : null,
            start.At, _state.UpdatedAt, Node);
    }

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
        _passivating = true;
        Context.Parent.Tell(new Passivate(StopInstance.Instance));
    }

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
        // Stopping (passivation, hand-off, shutdown) must also stop the provider call.
        _cts?.Cancel();
        _cts?.Dispose();
        _fanOut?.Interrupt(new ReplyFailed(_state.Current?.TaskId ?? "", ErrorCodes.Interrupted,
            "the instance stopped while the task was running", _text.ToString()));
        var refusal = new Rejected(ErrorCodes.StoreUnavailable,
            "the instance stopped before it could handle this command (the journal failed); nothing was changed, retry");
        foreach (var waiter in _cleanupWaiters ?? [])
            waiter.Tell(refusal);
        _cleanupWaiters = null;
        // A cancel was asked for a task the stop interrupts; the caller learns now instead of timing out.
        foreach (var waiter in _cancelWaiters)
            waiter.Tell(new Rejected(ErrorCodes.StoreUnavailable,
                "the instance stopped before the cancellation was recorded; its task ends as interrupted, retry to see it"));
        _cancelWaiters.Clear();
        foreach (var (command, sender) in _unhandled)
            sender.Tell(refusal);
        _unhandled.Clear();
        base.PostStop();
    }

    // ---------------------------------------------------------------- internal messages (never leave the node)

    /// <summary>The model stream queued chunks in <see cref="Inbox"/> (sent once per batch, not per chunk).</summary>
    private sealed record ChunksQueued(ChunkInbox Inbox) : INoSerializationVerificationNeeded;

    /// <summary>
    /// Chunks of one task on their way from the model stream (a pool thread) to the instance. The stream queues each chunk
    /// and tells the instance only when no earlier notice is still unread, so a fast model costs one mailbox message per
    /// batch of chunks rather than per chunk. The instance re-arms the notice before it drains, so no chunk is left behind.
    /// </summary>
    private sealed class ChunkInbox(string taskId)
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<string> _queue = new();
        private int _notified;
        private long _firstChunkAt;

        public string TaskId { get; } = taskId;

        /// <summary>When the stream produced the first chunk (for time to first token); read after taking that chunk.</summary>
        public long FirstChunkAt => Volatile.Read(ref _firstChunkAt);

        public void Add(IActorRef instance, string text, TimeProvider time)
        {
            if (_firstChunkAt == 0)
                Volatile.Write(ref _firstChunkAt, time.GetTimestamp()); // only the stream's own thread writes it
            _queue.Enqueue(text);
            if (Interlocked.Exchange(ref _notified, 1) == 0)
                instance.Tell(new ChunksQueued(this));
        }

        public void Rearm() => Volatile.Write(ref _notified, 0);

        public bool TryTake(out string text) => _queue.TryDequeue(out text!);
    }

    private sealed record ModelFinished(string TaskId, TokenUsage? Usage, string? Error, bool Cancelled, long Timestamp)
        : INoSerializationVerificationNeeded;

    private sealed record SyncResult(string TaskId, string? Error) : INoSerializationVerificationNeeded;

    private sealed record RetrySync(string TaskId) : INoSerializationVerificationNeeded;

    private sealed class CleanupWaitExpired : INoSerializationVerificationNeeded
    {
        public static readonly CleanupWaitExpired Instance = new();
    }

    private sealed class HandOffDeadline : INoSerializationVerificationNeeded
    {
        public static readonly HandOffDeadline Instance = new();
    }

    private sealed record ExecContext(Prompt Prompt, ScopedVariableValues Scoped);

    private sealed record ContextLoaded(long Request, ExecContext? Context, Rejected? Error) : INoSerializationVerificationNeeded
    {
        public static async Task<ContextLoaded> LoadAsync(long request, string promptId, int? version, Task<object> promptTask,
            Task<object> scopedTask)
        {
            object prompt, scoped;
            try
            {
                prompt = await promptTask;
            }
            catch (Exception)
            {
                return new(request, null, new Rejected(ErrorCodes.StoreUnavailable, $"loading prompt '{promptId}' timed out"));
            }
            try
            {
                scoped = await scopedTask;
            }
            catch (Exception)
            {
                return new(request, null, new Rejected(ErrorCodes.StoreUnavailable, "loading scoped variables timed out"));
            }
            switch (prompt)
            {
                case PromptNotFound:
                    return new(request, null, new Rejected(ErrorCodes.PromptNotFound,
                        version is null ? $"prompt '{promptId}' does not exist" : $"prompt '{promptId}' has no version {version}"));
                case PromptLoadFailed f:
                    return new(request, null, new Rejected(ErrorCodes.StoreUnavailable, $"loading prompt '{promptId}' failed: {f.Reason}"));
            }
            if (scoped is ScopedVariablesUnavailable u)
                return new(request, null, new Rejected(ErrorCodes.StoreUnavailable, $"loading scoped variables failed: {u.Reason}"));
            return new(request, new ExecContext(((PromptFound)prompt).Prompt, (ScopedVariableValues)scoped), null);
        }
    }
}

/// <summary>The stop message of passivation and shard hand-off (PoisonPill is unsafe for persistent actors).</summary>
public sealed class StopInstance : IPromptActorsMessage
{
    public static readonly StopInstance Instance = new();
}
