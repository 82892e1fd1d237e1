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
        _deps.Directory?.Register(_instanceId, Self);
        base.PreStart();
    }

    private void BeginTurnTelemetry(string? traceParent, string taskId, ModelEntry model)
    {
        EndTurnTelemetry(); // a turn that never finished in this incarnation (should not happen) leaves no open span
        _turnSpan = PromptActorsTelemetry.StartDetached(PromptActorsTelemetry.Instance, "promptactors.turn", ActivityKind.Internal,
            traceParent);
        _turnSpan?.SetTag("gen_ai.conversation.id", PublicId)
            .SetTag("promptactors.task.id", taskId)
            .SetTag(PromptActorsTelemetry.NodeTag, Node)
            .SetTag("promptactors.prompt.id", _state.Start?.PromptId)
            .SetTag("promptactors.prompt.version", _state.Start?.PromptVersion);
        StartModelSpan(model);
        if (PromptActorsTelemetry.CaptureContent && _state.Current?.UserMessage is { } input && _modelSpan is { } span)
        {
            if (PromptActorsTelemetry.LatestExperimental)
                span.SetTag("gen_ai.input.messages", GenAiContent.Messages("user", input, finishReason: null));
            else
                span.AddEvent(new ActivityEvent("gen_ai.user.message", tags: new ActivityTagsCollection { ["content"] = input }));
        }
    }

    /// <summary>Starts a model call with the turn's options, which its chat span records as the request's parameters.</summary>
    private void StartCall(ModelCall call, ModelEntry model)
    {
        var options = ChatOptionsMapper.ToChatOptions(TurnSettings, model.Id, _deps.Tools);
        if (_modelSpan is { } span)
            GenAiContent.TagRequest(span, options);
        call.Start(Self, options);
    }

    /// <summary>The GenAI <c>chat</c> span of one model call of the turn.</summary>
    private void StartModelSpan(ModelEntry model)
    {
        PromptActorsTelemetry.StopDetached(_modelSpan);
        var parent = _turnSpan?.Context ?? default;
        _modelSpan = PromptActorsTelemetry.StartDetached(PromptActorsTelemetry.Model, "chat " + model.Id, ActivityKind.Client, parent);
        _modelSpan?.SetTag("gen_ai.operation.name", "chat")
            .SetTag("gen_ai.provider.name", model.Provider)
            .SetTag("gen_ai.request.model", model.Id)
            .SetTag("gen_ai.conversation.id", PublicId)
            .SetTag("promptactors.prompt.id", _state.Start?.PromptId)
            .SetTag("promptactors.prompt.version", _state.Start?.PromptVersion);
    }

    /// <summary>A model call that asked for tools: its span ends with its own usage and the <c>tool_calls</c> finish reason.</summary>
    private void EndModelSpan(ToolCallsRequested requested, ModelEntry model) => EndModelSpan(requested.Usage, "tool_calls", model);

    /// <summary>Ends the chat span of a model call the turn goes on after (<paramref name="finishReason"/>: why it goes on).</summary>
    private void EndModelSpan(TokenUsage usage, string finishReason, ModelEntry model)
    {
        if (_modelSpan is { } span)
        {
            span.SetTag("gen_ai.response.model", model.Id)
                .SetTag("gen_ai.usage.input_tokens", usage.InputTokens)
                .SetTag("gen_ai.usage.output_tokens", usage.OutputTokens)
                .SetTag("gen_ai.response.finish_reasons", new[] { finishReason });
            PromptActorsTelemetry.StopDetached(span);
        }
        _modelSpan = null;
    }

    private Dictionary<string, Activity>? _toolSpans;

    /// <summary>A GenAI <c>execute_tool</c> span per tool call (arguments and results are content: not recorded).</summary>
    private void StartToolSpan(string callId, string name)
    {
        var span = PromptActorsTelemetry.StartDetached(PromptActorsTelemetry.Tool, "execute_tool " + name, ActivityKind.Internal,
            _turnSpan?.Context ?? default);
        if (span is null)
            return;
        span.SetTag("gen_ai.operation.name", "execute_tool")
            .SetTag("gen_ai.tool.name", name)
            .SetTag("gen_ai.tool.call.id", callId)
            .SetTag("gen_ai.conversation.id", PublicId);
        (_toolSpans ??= new Dictionary<string, Activity>(StringComparer.Ordinal))[callId] = span;
    }

    private void StopToolSpan(string callId, ToolCallStatus status)
    {
        if (_toolSpans is null || !_toolSpans.Remove(callId, out var span))
            return;
        if (status != ToolCallStatus.Completed)
            span.SetStatus(ActivityStatusCode.Error, status.ToString()).SetTag("error.type", "tool_" + status.ToString().ToLowerInvariant());
        PromptActorsTelemetry.StopDetached(span);
    }

    /// <summary>The turn's outcome: its figures, and the model and turn spans closed with it.</summary>
    /// <param name="earlier">Usage of the turn's earlier model calls (their spans carry it already): the last span gets its own.</param>
    private void RecordOutcome(IInstanceEvent outcome, string modelId, string provider, long persistStarted, TokenUsage earlier)
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
            { "gen_ai.provider.name", provider },
            { "gen_ai.request.model", modelId },
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
            PromptActorsTelemetry.Cost.Add((double)cost, new TagList { { "gen_ai.request.model", modelId } });

        if (_modelSpan is { } span)
        {
            span.SetTag("gen_ai.response.model", modelId)
                .SetTag("gen_ai.usage.input_tokens", usage.InputTokens - earlier.InputTokens)
                .SetTag("gen_ai.usage.output_tokens", usage.OutputTokens - earlier.OutputTokens)
                .SetTag("gen_ai.response.finish_reasons", new[] { result == "completed" ? "stop" : result });
            if (code is not null)
                span.SetStatus(ActivityStatusCode.Error, code).SetTag("error.type", code);
            if (PromptActorsTelemetry.CaptureContent && PromptActorsTelemetry.LatestExperimental)
                span.SetTag("gen_ai.output.messages", GenAiContent.Messages("assistant", text, result == "completed" ? "stop" : result));
            else if (PromptActorsTelemetry.CaptureContent)
                span.AddEvent(new ActivityEvent("gen_ai.choice", tags: new ActivityTagsCollection { ["content"] = text }));
        }
        if (code is not null)
            _turnSpan?.SetStatus(ActivityStatusCode.Error, code).SetTag("error.type", code);
    }

    /// <summary>The trace context run-store writes of this turn are recorded under (none when tracing is off).</summary>
    private ActivityContext TurnContext => _turnSpan?.Context ?? default;

    private void EndTurnTelemetry()
    {
        foreach (var span in _toolSpans?.Values ?? Enumerable.Empty<Activity>())
            PromptActorsTelemetry.StopDetached(span);
        _toolSpans = null;
        PromptActorsTelemetry.StopDetached(_modelSpan);
        _modelSpan = null;
        PromptActorsTelemetry.StopDetached(_turnSpan);
        _turnSpan = null;
    }
}
