using System.Text;
using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Event;
using Akka.Persistence;
using Akka.Streams;
using Microsoft.Extensions.AI;
using PromptActors.Models;
using PromptActors.Prompts;
using PromptActors.Telemetry;
using PromptActors.Runs;
using PromptActors.Streaming;
using PromptActors.Variables;

namespace PromptActors.Instances;

/// <summary>executeMessage: the next message of the conversation becomes a task, journaled before its model call starts.</summary>
public sealed partial class ExecutionInstanceActor
{
    private void OnExecute(ExecuteMessage cmd)
    {
        Handling(cmd);
        var decision = Decide(cmd);
        if (decision is Decision.Answer { Reply: MessageAccepted again } && cmd.Subscribe)
        {
            // A repeat that asked for the stream: the same task's, when it is still the latest one.
            if ((_state.Current?.TaskId ?? _state.LastTask?.TaskId) == again.TaskId)
                OfferStream(Sender, 0, again);
            else
                Sender.Tell(again); // an older task: the engine resumes its stream by id
            return;
        }
        if (decision is Decision.Ignore)
            _log.Info("Instance {0} drops a copy of request {1} that arrived after its caller stopped waiting ({2})", _instanceId,
                cmd.RequestId, cmd.Deadline);
        if (Carry(cmd, decision) is not Decision.Proceed)
            return;
        if (!TryContext(cmd, PinnedPrompt(_state.Start!), _state.Start!.Scope, out var ctx))
            return; // handled again once the pinned prompt and the scoped variables are loaded

        var replyTo = Sender;
        if (!TryModel(ctx.Prompt, _state.Start!.Settings, out var model, out var rejected))
        {
            replyTo.Tell(rejected);
            return;
        }
        if (SettingsValidation.UnknownTools(_state.Start!.Settings, _deps.Tools) is { Count: > 0 } unknown)
        {
            replyTo.Tell(new Rejected(ErrorCodes.ValidationFailed,
                "the prompt offers tools that are not registered on this node: " + string.Join(", ", unknown)));
            return;
        }
        var taskId = NewId();
        var runId = _state.RunId ?? (_state.Config.TrackInRuns ? RunIds.Mint(_instanceId) : null);
        var parts = cmd.Parts is { Count: > 0 } ? cmd.Parts : null;
        var userInput = parts is not null ? cmd.UserInput ?? "" : cmd.UserInput;
        var built = Build(ctx.Prompt, ctx.Scoped, _state.UserValues, _state.Conversation, userInput, runId,
            _state.Config.ApplyVariables, parts);
        if (!built.Ok)
        {
            replyTo.Tell(Refusal(built));
            return;
        }
        Submit(taskId, _state.RunId is null ? runId : null, userInput, built.Messages, model, replyTo, replyWithView: false, ctx,
            cmd.RequestId, cmd.Subscribe, cmd.KeyId, cmd.Settings, cmd.TraceParent, parts);
    }

    private void OnUpdateVariables(UpdateVariables cmd)
    {
        Handling(cmd);
        if (Carry(cmd) is not Decision.Persist { Events: [VariablesUpdated updated] })
            return;
        // The view it is answered with shows the merged variables: their context is loaded before the change is journaled.
        ExecContext? ctx = null;
        if (_state.Config.ShowVariables && !TryContext(cmd, PinnedPrompt(_state.Start!), _state.Start!.Scope, out ctx))
            return;
        var replyTo = Sender;
        _persistReplyTo = replyTo;
        Persist(updated, e =>
        {
            _persistReplyTo = null;
            _state.Apply(e);
            MaybeSnapshot();
            replyTo.Tell(BuildView(ctx));
        });
    }

    private void Submit(string taskId, string? newRunId, string? userInput, IReadOnlyList<ChatMessage> messages,
        ModelEntry model, IActorRef replyTo, bool replyWithView, ExecContext ctx, string? requestId = null, bool subscribe = false,
        string? keyId = null, PromptSettings? settings = null, string? traceParent = null,
        IReadOnlyList<PromptActors.Attachments.MessagePart>? parts = null)
    {
        var acknowledged = _outbox.TakeAcknowledged();
        _turnContext = (taskId, ctx); // the turn's later model calls run with the same prompt and scoped variables
        var submitted = new MessageSubmitted(taskId, newRunId, userInput, model.Id, model.Provider, Time.GetUtcNow(), requestId,
            acknowledged, keyId, settings, parts);
        _persistReplyTo = replyTo;
        var persistStarted = System.Diagnostics.Stopwatch.GetTimestamp();
        Persist(submitted, e =>
        {
            _persistReplyTo = null;
            PromptActorsTelemetry.JournalWrite.Record(System.Diagnostics.Stopwatch.GetElapsedTime(persistStarted).TotalSeconds);
            _outbox.Recorded(acknowledged);
            _state.Apply(e);
            BeginTurnTelemetry(traceParent, taskId, model);
            _deps.Reaper.Tell(new InstanceActiveNotice(_instanceId));
            _call?.Dispose();
            var call = _call = new ModelCall(taskId, messages, model, Time, FirstToken, PublishChunk, attachments: AttachmentLoader);
            if (subscribe)
                OfferStream(replyTo, 0, new MessageAccepted(_instanceId, taskId, _state.RunId)); // before the first chunk
            StartModel(call);
            if (replyWithView)
                replyTo.Tell(BuildView(ctx));
            else if (!subscribe)
                replyTo.Tell(new MessageAccepted(_instanceId, taskId, _state.RunId));
            ScheduleProgressRow(taskId);
            MaybeSnapshot();
        });
    }

    /// <summary>Starts the model call of the task just submitted (a subscriber that asked with the message already listens).</summary>
    private void StartModel(ModelCall call)
    {
        _fanOut?.TaskStarted();
        // The instance's settings, with the message's own (allowlisted) on top for this turn.
        StartCall(call, call.Model);
    }

    /// <summary>Takes every chunk the model stream has queued for the current task, in order, to every subscriber.</summary>
    private void DrainChunks(ChunksQueued notice)
    {
        if (_call is { } call && _state.Current?.TaskId == call.TaskId)
            call.Drain(notice);
    }

    private void FirstToken()
    {
        _state.MarkStreaming();
        if (_state.Current is not { Iteration: 0 } turn)
            return;
        _streamedFor = turn.TaskId;
        // The row says streaming from the turn's first token on (once it is written; until then its first write says so).
        if (_progressRowFor == turn.TaskId)
            _outbox.WriteProgress(_state, RunTaskStatus.Streaming, Time.GetUtcNow(), first: false);
    }

    /// <summary>
    /// The running task's row goes to the run store once the turn has run for <see cref="InstanceSettings.ProgressRowDelay"/>
    /// (pending, or streaming when the first token came): a turn that ends sooner writes only its final row, so a fast turn
    /// costs one run-store commit instead of three. Zero writes the pending row at once.
    /// </summary>
    private void ScheduleProgressRow(string taskId)
    {
        _progressRowFor = null;
        if (_settings.ProgressRowDelay <= TimeSpan.Zero)
            WriteFirstProgressRow(taskId);
        else
            Timers.StartSingleTimer(ProgressRowDue.Key, new ProgressRowDue(taskId), _settings.ProgressRowDelay);
    }

    private void WriteFirstProgressRow(string taskId)
    {
        if (_state.Current is not { } turn || turn.TaskId != taskId || _progressRowFor == taskId)
            return; // the turn ended first: its final row is all there is
        _progressRowFor = taskId;
        // Streaming once the turn's first model call streamed (it may be in its tools by now), as the row would have said.
        var status = _streamedFor == taskId ? RunTaskStatus.Streaming : RunTaskStatus.Pending;
        if (_outbox.WriteProgress(_state, status, Time.GetUtcNow(), first: true) is not { } written)
            return;
        _progressRowWriting = true; // a run read meanwhile waits for it
        written.PipeTo(Self, success: () => ProgressRowWritten.Instance);
    }

    /// <summary>The running task has no row yet (its delay has not passed): a run read has it written first.</summary>
    private bool OwesProgressRow() =>
        _state.Config.TrackInRuns && _state.RunId is not null && _state.Current is { } turn && _progressRowFor != turn.TaskId;

    /// <summary>The turn ended: its progress row is no longer due.</summary>
    private void ForgetProgressRow()
    {
        Timers.Cancel(ProgressRowDue.Key);
        _progressRowFor = null;
        _streamedFor = null;
    }

    private void PublishChunk(ReplyChunk chunk) => _fanOut?.Publish(chunk);
}
