using System.Diagnostics;
using PromptActors.Models;
using PromptActors.Telemetry;

namespace PromptActors.Instances;

/// <summary>
/// The instance's share of the traces and metrics: a turn span under the caller's trace context (carried in the command,
/// so it joins the trace on whichever node owns the instance), a GenAI <c>chat</c> span per model call, and the turn's
/// figures. Spans are started detached: the actor's thread never carries them as its current activity.
/// </summary>
public sealed partial class ExecutionInstanceActor
{
    private Activity? _turnSpan;
    private Activity? _modelSpan;

    protected override void PreStart()
    {
        PromptActorsTelemetry.ActiveInstances.Add(1);
        base.PreStart();
    }

    private void BeginTurnTelemetry(string? traceParent, string taskId, ModelEntry model)
    {
        EndTurnTelemetry(); // a turn that never finished in this incarnation (should not happen) leaves no open span
        _turnSpan = PromptActorsTelemetry.StartDetached(PromptActorsTelemetry.Instance, "promptactors.turn", ActivityKind.Internal,
            traceParent);
        _turnSpan?.SetTag("gen_ai.conversation.id", PublicId)
            .SetTag("promptactors.task.id", taskId)
            .SetTag("promptactors.prompt.id", _state.Start?.PromptId)
            .SetTag("promptactors.prompt.version", _state.Start?.PromptVersion);
        var parent = _turnSpan?.Context ?? default;
        _modelSpan = PromptActorsTelemetry.StartDetached(PromptActorsTelemetry.Model, "chat " + model.Id, ActivityKind.Client, parent);
        _modelSpan?.SetTag("gen_ai.operation.name", "chat")
            .SetTag("gen_ai.provider.name", model.Provider)
            .SetTag("gen_ai.request.model", model.Id)
            .SetTag("gen_ai.conversation.id", PublicId)
            .SetTag("promptactors.prompt.id", _state.Start?.PromptId)
            .SetTag("promptactors.prompt.version", _state.Start?.PromptVersion);
        if (PromptActorsTelemetry.LatestExperimental && _state.Start?.Settings.ResponseFormat is { IsJson: true })
            _modelSpan?.SetTag("gen_ai.output.type", "json");
        if (PromptActorsTelemetry.CaptureContent && _state.Current?.UserMessage is { } input)
            _modelSpan?.AddEvent(new ActivityEvent("gen_ai.user.message", tags: new ActivityTagsCollection { ["content"] = input }));
    }

    /// <summary>The turn's outcome: its figures, and the model and turn spans closed with it.</summary>
    private void RecordOutcome(IInstanceEvent outcome, ModelEntry model, long persistStarted)
    {
        PromptActorsTelemetry.JournalWrite.Record(Stopwatch.GetElapsedTime(persistStarted).TotalSeconds);
        var (usage, cost, ttft, total, code, text) = outcome switch
        {
            ExecutionCompleted c => (c.Usage, c.Cost, c.TimeToFirstTokenMs, c.TotalTimeMs, (string?)null, c.Text),
            ExecutionFailed f => (f.Usage, f.Cost, f.TimeToFirstTokenMs, f.TotalTimeMs, f.Code, f.PartialText),
            ExecutionCancelled x => (x.Usage, x.Cost, x.TimeToFirstTokenMs, x.TotalTimeMs, ErrorCodes.Cancelled, x.PartialText),
            _ => (new TokenUsage(0, 0), 0m, null, 0d, null, ""),
        };
        var result = outcome switch { ExecutionCompleted => "completed", ExecutionCancelled => "cancelled", _ => "failed" };
        var common = new TagList
        {
            { "gen_ai.operation.name", "chat" },
            { "gen_ai.provider.name", model.Provider },
            { "gen_ai.request.model", model.Id },
        };
        var input = common;
        input.Add("gen_ai.token.type", "input");
        PromptActorsTelemetry.TokenUsage.Record(usage.InputTokens, input);
        var output = common;
        output.Add("gen_ai.token.type", "output");
        PromptActorsTelemetry.TokenUsage.Record(usage.OutputTokens, output);
        var timed = common;
        if (code is not null)
            timed.Add("error.type", code);
        PromptActorsTelemetry.OperationDuration.Record(total / 1000, timed);
        if (ttft is { } first)
            PromptActorsTelemetry.TimeToFirstChunk.Record(first / 1000, common);
        var turn = new TagList { { "outcome", result } };
        if (code is not null)
            turn.Add("error.type", code);
        PromptActorsTelemetry.Turns.Add(1, turn);
        if (cost != 0)
            PromptActorsTelemetry.Cost.Add((double)cost, new TagList { { "gen_ai.request.model", model.Id } });

        if (_modelSpan is { } span)
        {
            span.SetTag("gen_ai.response.model", model.Id)
                .SetTag("gen_ai.usage.input_tokens", usage.InputTokens)
                .SetTag("gen_ai.usage.output_tokens", usage.OutputTokens)
                .SetTag("gen_ai.response.finish_reasons", new[] { result == "completed" ? "stop" : result });
            if (code is not null)
                span.SetStatus(ActivityStatusCode.Error, code).SetTag("error.type", code);
            if (PromptActorsTelemetry.CaptureContent)
                span.AddEvent(new ActivityEvent("gen_ai.choice", tags: new ActivityTagsCollection { ["content"] = text }));
        }
        if (code is not null)
            _turnSpan?.SetStatus(ActivityStatusCode.Error, code).SetTag("error.type", code);
    }

    /// <summary>The trace context run-store writes of this turn are recorded under (none when tracing is off).</summary>
    private ActivityContext TurnContext => _turnSpan?.Context ?? default;

    private void EndTurnTelemetry()
    {
        PromptActorsTelemetry.StopDetached(_modelSpan);
        _modelSpan = null;
        PromptActorsTelemetry.StopDetached(_turnSpan);
        _turnSpan = null;
    }
}
