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
using PromptActors.Telemetry;
using PromptActors.Variables;

namespace PromptActors.Instances;

/// <summary>completeExecution: the model call ended; its outcome is journaled and told to everyone waiting. Also cancel.</summary>
public sealed partial class ExecutionInstanceActor
{
    private void OnCancel(CancelExecution cmd)
    {
        Handling(cmd);
        if (Carry(cmd) is not Decision.Proceed)
            return;
        if (_call is null && _state.Current?.ActiveStep is not ToolCallsStep && !(_state.Current?.Iteration > 0))
        {
            Sender.Tell(new CancelResult(_instanceId, null, false)); // no model call of this incarnation to cancel
            return;
        }
        _cancelWaiters.Add(Sender);
        CancelTurn();
    }

    /// <summary>
    /// The original design's <c>completeExecution</c>: the model call ended (completed, failed or cancelled). Its outcome is
    /// journaled; then every subscriber gets the terminal event, waiting cancels their answer, and the outbox writes the row.
    /// A call that asked for tools goes on in the tool loop instead (ExecutionInstanceActor.Tools.cs).
    /// </summary>
    private void OnModelFinished(ModelFinished done)
    {
        if (_state.Current is not { ActiveStep: ModelCallStep } turn || turn.TaskId != done.TaskId || _call is not { } call
            || call.TaskId != done.TaskId)
            return;
        // Every chunk the stream queued comes before its end.
        var outcome = call.Outcome(done, turn, TurnSettings, _deps.Tools, _deps.Schemas);
        if (done.Error is { } err)
            _log.Warning("Task {0} of instance {1} failed: {2}", done.TaskId, _instanceId, err);
        var persistStarted = System.Diagnostics.Stopwatch.GetTimestamp();
        if (outcome is ToolCallsRequested requested)
            OnToolsRequested(requested, call, persistStarted);
        else if (outcome is OutputRepairRequested repair)
            OnRepairRequested(repair, call, persistStarted);
        else
            EndTurn(outcome, call.Model.Id, call.Model.Provider, persistStarted, call);
    }

    /// <summary>
    /// Journals the turn's outcome, then tells every subscriber and waiting cancel, hands the row to the outbox and closes the
    /// turn's telemetry. <paramref name="call"/> is the model call that ended it (null when the turn ended between calls).
    /// </summary>
    private void EndTurn(IInstanceEvent outcome, string modelId, string provider, long persistStarted, ModelCall? call)
    {
        var taskId = _state.Current!.TaskId;
        var earlier = _state.Current.EarlierUsage;
        Persist(outcome, e =>
        {
            _state.Apply(e);
            RecordOutcome(e, modelId, provider, persistStarted, earlier);
            _lastChunks = (taskId, _turnEvents, call?.Chunks ?? [], call?.FirstIndex ?? 0);
            _turnEvents = null;
            _turnContext = null;
            _cancelRequested = false;
            ForgetProgressRow();
            _fanOut?.Complete(Terminal(_state.LastTask!));
            foreach (var w in _cancelWaiters)
                w.Tell(new CancelResult(_instanceId, taskId, e is ExecutionCancelled));
            _cancelWaiters.Clear();
            _call?.Dispose();
            _call = null;
            _outbox.SendAll(_state, TurnContext);
            EndTurnTelemetry();
            RegisterWithReaperIfDone();
            MaybeSnapshot();
            StopIfHandedOff();
        });
    }

    /// <summary>
    /// The reply is not the JSON asked for and the turn may repair it: that is journaled (with the call's figures), the
    /// stream is told the reply is discarded, and the next model call is asked to fix it (see <see cref="OnContinue"/>).
    /// </summary>
    private void OnRepairRequested(OutputRepairRequested repair, ModelCall call, long persistStarted)
    {
        Persist(repair, e =>
        {
            PromptActorsTelemetry.JournalWrite.Record(System.Diagnostics.Stopwatch.GetElapsedTime(persistStarted).TotalSeconds);
            _state.Apply(e);
            EndModelSpan(repair.Usage, "invalid_output", call.Model);
            var events = _turnEvents ??= new List<ReplyEvent>();
            for (var i = 0; i < call.Chunks.Count; i++)
                events.Add(new ReplyChunk(repair.TaskId, call.FirstIndex + i, call.Chunks[i]));
            call.Dispose();
            _call = null;
            if (_state.Current?.ActiveStep is ModelCallStep { Repair: { } asked })
                Emit(new ReplyRepair(repair.TaskId, asked.Index, repair.Errors));
            MaybeSnapshot();
            AfterToolChange(); // the repairing call, unless the turn is cancelled or moving meanwhile
        });
    }

    /// <summary>What the repairing call is told after the conversation: the invalid reply, then why it is invalid.</summary>
    private static IReadOnlyList<ChatMessage> WithRepair(IReadOnlyList<ChatMessage> messages, OutputRepair repair) =>
    [
        .. messages,
        new ChatMessage(ChatRole.Assistant, repair.InvalidText),
        new ChatMessage(ChatRole.User,
            "Your reply is not valid for the required JSON format: " + repair.Errors
            + "\nAnswer again with only the corrected JSON, nothing else."),
    ];

    private ReplyEvent Terminal(FinishedTask task) => task.Outcome == TaskOutcome.Completed
        ? new ReplyCompleted(task.TaskId, task.Text, task.Stats, StructuredOutput.Parse(task.Text, _state.Start?.Settings.ResponseFormat))
        : new ReplyFailed(task.TaskId, task.ErrorCode ?? ErrorCodes.ProviderError, task.ErrorDetail ?? "", task.Text);
}
