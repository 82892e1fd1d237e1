using Akka.Actor;
using Akka.Event;
using PromptActors.Models;
using PromptActors.Prompts;
using PromptActors.Streaming;
using PromptActors.Telemetry;
using PromptActors.Tools;

namespace PromptActors.Instances;

/// <summary>
/// The durable tool loop: a model call that asks for tools is journaled with its calls (those that run at once recorded as
/// started), each call runs off the actor thread and its result is journaled before anything else happens, a person's
/// decision is journaled before an approved call runs, and when every call of the step has its result the next model call
/// is made with them. Recovery finishes what a crash left (see <see cref="InstanceDecider.RecoverTools"/>).
/// </summary>
public sealed partial class ExecutionInstanceActor
{
    // Calls running now (each one's cancellation), by call id; a call stays here until its result is journaled.
    private Dictionary<string, CancellationTokenSource>? _runningTools;
    // The prompt and scoped variables the running turn began with (task id, context).
    private (string TaskId, ExecContext Context)? _turnContext;
    // Results that arrived and wait for the next PersistToolResults (one journal write for all of them).
    private List<ToolDone>? _doneTools;
    // Stream events of the running turn's earlier steps (their chunks, tool calls and results); their indices are in the
    // state (CurrentTask.StreamIndex, ToolCallEntry's indices), given in journal order.
    private List<ReplyEvent>? _turnEvents;
    // A cancel arrived while the turn was between model calls or in its tools: the turn ends cancelled once nothing runs.
    private bool _cancelRequested;

    /// <summary>The settings the running turn runs with: the instance's, with the message's own on top.</summary>
    private PromptSettings TurnSettings => SettingsOverrides.Apply(_state.Start!.Settings, _state.Current?.Settings);

    /// <summary>The turn waits for people only: no model call and no tool runs (it may stop meanwhile).</summary>
    private bool OnlyWaiting => _call is null && (_runningTools?.Count ?? 0) == 0
        && _state.Current is { ToolStep: { } step } && !step.Calls.Any(c => c.Status == ToolCallStatus.Running);

    /// <summary>
    /// The turn only waits and no approval deadline runs in this incarnation: it may passivate (a waiting approval with
    /// <c>Instances:ApprovalTimeout</c> keeps it in memory, or its timer would be lost with it).
    /// </summary>
    private bool MayPassivateWhileWaiting => OnlyWaiting
        && !(_settings.ApprovalTimeout is not null && _state.Current!.ToolStep!.Calls.Any(c => c.Status == ToolCallStatus.AwaitingApproval));

    /// <summary>The model call asked for tools: the calls are journaled, then the ones that may start run.</summary>
    private void OnToolsRequested(ToolCallsRequested requested, ModelCall call, long persistStarted)
    {
        Persist(requested, e =>
        {
            PromptActorsTelemetry.JournalWrite.Record(System.Diagnostics.Stopwatch.GetElapsedTime(persistStarted).TotalSeconds);
            _state.Apply(e);
            EndModelSpan(requested, call.Model);
            var turn = _state.Current!;
            var events = _turnEvents ??= new List<ReplyEvent>();
            for (var i = 0; i < call.Chunks.Count; i++)
                events.Add(new ReplyChunk(requested.TaskId, call.FirstIndex + i, call.Chunks[i]));
            call.Dispose();
            _call = null;
            foreach (var c in requested.Calls)
                Emit(new ReplyToolCall(requested.TaskId, turn.FindCall(c.CallId)!.RequestIndex, c.CallId, c.Name, c.Arguments, c.Status));
            foreach (var c in requested.Calls)
            {
                if (c.Status == ToolCallStatus.Failed)
                    Emit(new ReplyToolResult(requested.TaskId, turn.FindCall(c.CallId)!.ResultIndex ?? 0, c.CallId, c.Name, c.Status,
                        ToolResults.Preview(c.Result ?? "")));
            }
            if (!_cancelRequested)
            {
                foreach (var c in requested.Calls)
                {
                    if (c.Status == ToolCallStatus.Running)
                        StartTool(requested.TaskId, c.CallId, c.Name, c.Arguments);
                }
                ArmApprovalTimers();
            }
            MaybeSnapshot();
            AfterToolChange();
        });
    }

    private void Emit(ReplyEvent e)
    {
        (_turnEvents ??= new List<ReplyEvent>()).Add(e);
        _fanOut?.Publish(e);
    }

    private void StartTool(string taskId, string callId, string name, string arguments)
    {
        if (_deps.Tools is not { } registry || !registry.TryGet(name, out var tool))
        {
            Self.Tell(new ToolDone(taskId, callId, ToolCallStatus.Failed, $"error: the tool '{name}' is not registered on this node", 0, false));
            return;
        }
        var cts = new CancellationTokenSource();
        (_runningTools ??= new Dictionary<string, CancellationTokenSource>(StringComparer.Ordinal))[callId] = cts;
        StartToolSpan(callId, name);
        var context = new ToolCallContext(taskId + ":" + callId, PublicId, taskId, callId);
        ToolRunner.RunAsync(tool, arguments, context, tool.Timeout ?? _settings.ToolTimeout, _settings.MaxToolResultChars, Time, cts.Token)
            .PipeTo(Self);
    }

    /// <summary>
    /// A tool call ended: its result is journaled before the turn goes on. Results that arrive together (parallel calls of
    /// one step usually do) are journaled together: the first queues a <see cref="PersistToolResults"/> behind the others
    /// already in the mailbox, which writes them all in one journal write. Until then the call still counts as running
    /// (nothing may stop, hand off or end the turn over a result not yet written).
    /// </summary>
    private void OnToolDone(ToolDone done)
    {
        if (_state.Current is not { } turn || turn.TaskId != done.TaskId || turn.ToolStep?.Find(done.CallId) is not { Status: ToolCallStatus.Running } call)
        {
            if (_runningTools is { } running && running.Remove(done.CallId, out var cts))
                cts.Dispose();
            return;
        }
        if (_doneTools?.Exists(d => d.CallId == done.CallId) == true)
            return;
        if (done.ErrorType is { } type)
            _log.Warning("Tool {0} (call {1}) of instance {2} threw {3}", call.Name, done.CallId, _instanceId, type);
        (_doneTools ??= new List<ToolDone>()).Add(done);
        if (_doneTools.Count == 1)
            Self.Tell(PersistToolResults.Instance);
    }

    /// <summary>Journals the results that arrived since the last write, in one write; then the turn goes on.</summary>
    private void OnPersistToolResults()
    {
        var batch = _doneTools;
        _doneTools = null;
        if (batch is null)
            return;
        var now = Time.GetUtcNow();
        var events = new List<ToolCallFinished>(batch.Count);
        foreach (var done in batch)
        {
            if (_runningTools is { } running && running.Remove(done.CallId, out var cts))
                cts.Dispose();
            if (_state.Current is { } turn && turn.TaskId == done.TaskId && turn.ToolStep?.Find(done.CallId) is { Status: ToolCallStatus.Running })
                events.Add(new ToolCallFinished(done.TaskId, done.CallId, done.Status, done.Result, done.DurationMs, now));
        }
        if (events.Count == 0)
        {
            AfterToolChange();
            return;
        }
        var left = events.Count;
        PersistAll(events, e =>
        {
            var finished = (ToolCallFinished)e;
            var name = _state.Current?.ToolStep?.Find(finished.CallId)?.Name ?? "";
            _state.Apply(e);
            StopToolSpan(finished.CallId, finished.Status);
            Emit(new ReplyToolResult(finished.TaskId, ResultIndexOf(finished.CallId), finished.CallId, name, finished.Status,
                ToolResults.Preview(finished.Result)));
            if (--left > 0)
                return;
            MaybeSnapshot();
            AfterToolChange();
        });
    }

    /// <summary>A person decided a waiting call (or its approval timed out): journaled, then it runs or the model is told.</summary>
    private void OnDecideToolCall(DecideToolCall cmd)
    {
        Handling(cmd);
        if (Carry(cmd) is not Decision.Persist { Events: [ToolCallDecided decided] })
            return;
        Decide(decided, Sender);
    }

    private void Decide(ToolCallDecided decided, IActorRef? replyTo)
    {
        if (_state.Current?.ToolStep?.Find(decided.CallId) is not { Status: ToolCallStatus.AwaitingApproval } call)
            return;
        _persistReplyTo = replyTo;
        Persist(decided, e =>
        {
            _persistReplyTo = null;
            _state.Apply(e);
            Timers.Cancel(ApprovalTimerKey(decided.CallId));
            if (decided.Approved)
            {
                Emit(new ReplyToolCall(decided.TaskId, _state.Current!.FindCall(call.CallId)!.ApprovalIndex ?? 0, call.CallId, call.Name,
                    call.Arguments, ToolCallStatus.Running));
                if (!_cancelRequested)
                    StartTool(decided.TaskId, call.CallId, call.Name, call.Arguments);
            }
            else
                Emit(new ReplyToolResult(decided.TaskId, ResultIndexOf(call.CallId), call.CallId, call.Name, ToolCallStatus.Rejected,
                    ToolResults.Preview(ToolResults.Rejection(decided.Reason))));
            replyTo?.Tell(new ToolCallDecision(_instanceId, decided.TaskId, decided.CallId, decided.Approved));
            MaybeSnapshot();
            AfterToolChange();
        });
    }

    /// <summary>The caller posted results of client tool calls: journaled (all of them), then the turn goes on.</summary>
    private void OnSubmitToolResults(SubmitToolResults cmd)
    {
        Handling(cmd);
        if (Carry(cmd) is not Decision.Persist { Events: var events })
            return;
        var replyTo = Sender;
        _persistReplyTo = replyTo;
        var ids = cmd.Results.Select(r => r.CallId).ToArray();
        var left = events.Count;
        PersistAll(events, e =>
        {
            var finished = (ToolCallFinished)e;
            var name = _state.Current?.ToolStep?.Find(finished.CallId)?.Name ?? "";
            _state.Apply(e);
            Emit(new ReplyToolResult(finished.TaskId, ResultIndexOf(finished.CallId), finished.CallId, name, finished.Status,
                ToolResults.Preview(finished.Result)));
            if (--left > 0)
                return;
            _persistReplyTo = null;
            replyTo.Tell(new ToolResultsAccepted(_instanceId, finished.TaskId, ids));
            MaybeSnapshot();
            AfterToolChange();
        });
    }

    /// <summary>After a step changed: cancel when asked and nothing runs, the next model call once every result is in.</summary>
    private void AfterToolChange()
    {
        if (_state.Current is not { } turn)
            return;
        if (_cancelRequested)
        {
            if (_call is null && (_runningTools?.Count ?? 0) == 0)
                FailTurn(null, null);
            return;
        }
        // Moving to another node: start nothing new. Once nothing runs the instance stops; the next incarnation makes the
        // next model call (or keeps waiting), as after any restart.
        if (_phase == InstancePhase.HandingOff)
        {
            if (_call is null && (_runningTools?.Count ?? 0) == 0 && _state.Unsynced.Count == 0)
                Context.Stop(Self);
            return;
        }
        if (turn.ActiveStep is ModelCallStep { Iteration: > 0 } && _call is null)
            Self.Tell(new ContinueTurn(_instanceId, turn.TaskId));
    }

    /// <summary>The next model call of the running turn, with every result so far (the prompt and variables are loaded first).</summary>
    private void OnContinue(ContinueTurn cmd)
    {
        Handling(cmd);
        if (_state.Current is not { ActiveStep: ModelCallStep { Iteration: > 0 } } turn || turn.TaskId != cmd.TaskId || _call is not null
            || _phase is InstancePhase.HandingOff or InstancePhase.Passivating)
            return; // a stopping incarnation starts no model call: the next one makes it after recovery
        if (_cancelRequested)
        {
            FailTurn(null, null);
            return;
        }
        // The context the turn began with (a turn runs with one prompt and one set of scoped variables); after a restart it
        // is loaded again.
        ExecContext ctx;
        if (_turnContext is { } begun && begun.TaskId == turn.TaskId)
            ctx = begun.Context;
        else if (!TryContext(cmd, PinnedPrompt(_state.Start!), _state.Start!.Scope, out ctx))
            return;
        else
            _turnContext = (turn.TaskId, ctx);
        if (!_deps.Models.TryGet(turn.Model, out var model))
        {
            FailTurn(ErrorCodes.ProviderError, $"model '{turn.Model}' is not configured on this node");
            return;
        }
        var built = Build(ctx.Prompt, ctx.Scoped, _state.UserValues, _state.Conversation, null, _state.RunId, _state.Config.ApplyVariables);
        if (!built.Ok)
        {
            FailTurn(ErrorCodes.ValidationFailed, Refusal(built).Detail);
            return;
        }
        StartModelSpan(model);
        var messages = turn.ActiveStep is ModelCallStep { Repair: { } repair } ? WithRepair(built.Messages, repair) : built.Messages;
        var call = _call = new ModelCall(turn.TaskId, messages, model, Time, FirstToken, PublishChunk, turn.StreamIndex,
            AttachmentLoader);
        StartCall(call, model);
    }

    /// <summary>
    /// Ends the running turn without a model call's outcome: cancelled (<paramref name="code"/> null) or failed, with the
    /// usage, cost and time of its model calls so far.
    /// </summary>
    private void FailTurn(string? code, string? detail)
    {
        var turn = _state.Current!;
        var now = Time.GetUtcNow();
        var total = (now - turn.SubmittedAt).TotalMilliseconds;
        IInstanceEvent outcome = code is null
            ? new ExecutionCancelled(turn.TaskId, "", turn.EarlierUsage, turn.CostSoFar ?? 0m, turn.FirstTokenMs, total, now)
            : new ExecutionFailed(turn.TaskId, code, detail ?? code, "", turn.EarlierUsage, turn.CostSoFar ?? 0m, turn.FirstTokenMs, total, now);
        if (code is not null)
            _log.Warning("Task {0} of instance {1} failed: {2}", turn.TaskId, _instanceId, code);
        EndTurn(outcome, turn.Model, turn.Provider, System.Diagnostics.Stopwatch.GetTimestamp(), null);
    }

    /// <summary>Cancel: the model call's stream, or every running tool's token; the turn ends cancelled once nothing runs.</summary>
    private void CancelTurn()
    {
        _cancelRequested = true;
        if (_call is { } call)
        {
            call.Cancel();
            return;
        }
        if (_runningTools is { Count: > 0 } running)
        {
            foreach (var cts in running.Values)
                cts.Cancel();
            return;
        }
        if (_state.Current?.ActiveStep is ToolCallsStep)
            FailTurn(null, null); // waiting for decisions only
        // Between steps (the next model call's context loading): ContinueTurn sees the request.
    }

    private static string ApprovalTimerKey(string callId) => "approval-" + callId;

    /// <summary>Calls waiting for approval are rejected when <c>Instances:ApprovalTimeout</c> passes (also after a restart).</summary>
    private void ArmApprovalTimers()
    {
        if (_settings.ApprovalTimeout is not { } timeout || _state.Current is not { ToolStep: { } step } turn)
            return;
        var now = Time.GetUtcNow();
        foreach (var c in step.Calls)
        {
            if (c.Status != ToolCallStatus.AwaitingApproval)
                continue;
            var left = step.StartedAt + timeout - now;
            Timers.StartSingleTimer(ApprovalTimerKey(c.CallId), new ApprovalExpired(turn.TaskId, c.CallId),
                left > TimeSpan.Zero ? left : TimeSpan.Zero);
        }
    }

    private void OnApprovalExpired(ApprovalExpired expired)
    {
        if (_state.Current?.TaskId != expired.TaskId || _phase != InstancePhase.Running)
            return; // a stopping incarnation leaves it to the next one, which arms the timer again
        _log.Info("Tool call {0} of instance {1} had no decision within the approval timeout; it is rejected", expired.CallId, _instanceId);
        Decide(new ToolCallDecided(expired.TaskId, expired.CallId, false, "no decision within the approval timeout", null,
            Time.GetUtcNow()), null);
    }

    /// <summary>
    /// After recovery with a turn in its tools or past them: at-most-once calls found started end <c>outcome_unknown</c>,
    /// idempotent ones are made again (same key), approvals keep waiting, and a later model call is made again.
    /// </summary>
    private void ResumeTurn()
    {
        RebuildTurnEvents();
        var unknown = InstanceDecider.RecoverTools(_state, Time.GetUtcNow());
        if (unknown.Count == 0)
        {
            RestartTools();
            return;
        }
        _log.Warning("Instance {0} recovered with {1} at-most-once tool call(s) started; their outcome is unknown", _instanceId, unknown.Count);
        var left = unknown.Count;
        PersistAll(unknown, e =>
        {
            var call = _state.Current?.ToolStep?.Find(((ToolCallFinished)e).CallId);
            _state.Apply(e);
            if (call is not null)
                Emit(new ReplyToolResult(_state.Current?.TaskId ?? "", ResultIndexOf(call.CallId), call.CallId, call.Name,
                    ToolCallStatus.OutcomeUnknown, ToolResults.Preview(ToolResults.OutcomeUnknown)));
            if (--left == 0)
            {
                _outbox.SendAll(_state);
                MaybeSnapshot();
                RestartTools();
            }
        });
    }

    private void RestartTools()
    {
        if (_state.Current is not { } turn)
            return;
        foreach (var c in InstanceDecider.CallsToRerun(_state))
        {
            _log.Info("Instance {0} makes idempotent tool call {1} again after recovery", _instanceId, c.CallId);
            StartTool(turn.TaskId, c.CallId, c.Name, c.Arguments);
        }
        ArmApprovalTimers();
        AfterToolChange();
    }

    /// <summary>The stream index the state gave the result of <paramref name="callId"/> (read after the event is applied).</summary>
    private int ResultIndexOf(string callId) => _state.Current?.FindCall(callId)?.ResultIndex ?? 0;

    private sealed record ApprovalExpired(string TaskId, string CallId) : INoSerializationVerificationNeeded;
}
