using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc;
using PromptActors.Engine;
using PromptActors.Host.Auth;
using PromptActors.Prompts;
using PromptActors.Streaming;

namespace PromptActors.Host.Api;

/// <summary>Messages and reply streams over HTTP: a message (plain or streamed), the SSE stream, stream tokens.</summary>
public static partial class ApiEndpoints
{
    private static async Task<IResult> PostMessage(string id, [FromBody] MessageBody? body, bool? stream, HttpContext http,
        IPromptExecutionEngine engine, HostMetrics metrics, CancellationToken ct)
    {
        engine = For(http, engine);
        // A client's retry with the same Idempotency-Key gets the task the first request created (for five minutes at least).
        string? requestId = null;
        if (http.Request.Headers["Idempotency-Key"].ToString() is { Length: > 0 } key)
        {
            if (!PromptValidation.IsValidId(key))
                return Problems.Of(ErrorCodes.ValidationFailed, "Idempotency-Key must be 1-128 letters, digits, '_', '-' or '.'");
            requestId = key;
        }
        PromptSettings? settings = null;
        if (body?.Settings is { } givenSettings)
        {
            var errors = new List<string>();
            settings = givenSettings.ToSettings(errors);
            if (errors.Count > 0)
                return Problems.Of(ErrorCodes.ValidationFailed, string.Join("; ", errors));
        }
        if (body?.Parts is { Count: > 0 } given)
        {
            if (PartBody.ToInputs(given, out var partError) is not { } parts)
                return Problems.Of(ErrorCodes.ValidationFailed, partError!);
            var message = new PromptActors.Attachments.MessageInput(body.UserInput, parts, requestId, settings);
            if (stream == true)
            {
                var sent = await engine.SendStreamingAsync(id, message, ct);
                metrics.MessageAccepted();
                return TypedResults.ServerSentEvents(Sse(sent.Events, metrics, ct));
            }
            var queued = await engine.SendAsync(id, message, ct);
            metrics.MessageAccepted();
            return TypedResults.Accepted($"/v1/instances/{id}/stream", new { taskId = queued.TaskId, runId = queued.RunId });
        }
        if (stream == true)
        {
            // One ask: the instance accepts the message and subscribes this request to its reply in the same step.
            var streamed = await engine.ExecuteMessageStreamAsync(id, body?.UserInput, requestId, settings, ct);
            metrics.MessageAccepted();
            return TypedResults.ServerSentEvents(Sse(streamed.Events, metrics, ct));
        }
        var accepted = await engine.ExecuteMessageAsync(id, body?.UserInput, requestId, settings, ct);
        metrics.MessageAccepted();
        return TypedResults.Accepted($"/v1/instances/{id}/stream", new { taskId = accepted.TaskId, runId = accepted.RunId });
    }

    /// <summary>A token for an <c>EventSource</c> on this instance's stream (the caller must be able to see the instance).</summary>
    private static async Task<IResult> IssueStreamToken(string id, HttpContext http, IPromptExecutionEngine engine, StreamTokens tokens,
        CancellationToken ct)
    {
        if (Caller(http) is not { } caller)
            return Problems.Of(ErrorCodes.ValidationFailed, "stream tokens need authentication to be on (without it the stream needs no token)");
        await For(http, engine).GetInstanceAsync(id, ct); // instance_not_found for an unknown or foreign id
        var (token, expires) = tokens.Issue(id, caller);
        return TypedResults.Ok(new { token, expiresAt = expires, use = $"/v1/instances/{id}/stream?access_token=<token>" });
    }

    private static async Task<IResult> Stream(string id, long? from, HttpContext http, IPromptExecutionEngine engine, HostMetrics metrics,
        CancellationToken ct)
    {
        engine = For(http, engine);
        // The stream is opened before the response starts, so a refusal (an unknown or foreign instance) is a problem+json.
        if (http.Request.Headers["Last-Event-ID"].FirstOrDefault() is not { Length: > 0 } last)
            return TypedResults.ServerSentEvents(Sse(await engine.OpenStreamAsync(id, from ?? 0, null, ct), metrics, ct));
        // "taskId:index" as we send it; a bare index (the form before task ids) resumes whatever task is current.
        var colon = last.LastIndexOf(':');
        var taskId = colon < 0 ? null : last[..colon];
        if (!long.TryParse(last.AsSpan(colon + 1), System.Globalization.NumberStyles.None,
                System.Globalization.CultureInfo.InvariantCulture, out var lastIndex)
            || lastIndex >= int.MaxValue || (taskId is not null && !PromptValidation.IsValidId(taskId)))
            return Problems.Of(ErrorCodes.ValidationFailed, "Last-Event-ID must be an event id this API sent (taskId:index)");
        return TypedResults.ServerSentEvents(Sse(await engine.OpenStreamAsync(id, lastIndex + 1, taskId, ct), metrics, ct));
    }

    private static async IAsyncEnumerable<SseItem<string>> Sse(IAsyncEnumerable<ReplyEvent> stream, HostMetrics metrics,
        [EnumeratorCancellation] CancellationToken ct)
    {
        metrics.SseOpened();
        using var closed = new Closed(metrics);
        await using var events = stream.GetAsyncEnumerator(ct);
        while (true)
        {
            SseItem<string> item;
            bool last;
            try
            {
                if (!await events.MoveNextAsync())
                    yield break;
                (item, last) = ToSse(events.Current);
            }
            catch (PromptActorsException e)
            {
                (item, last) = (new SseItem<string>(Json(new { code = e.Code, detail = e.Message }), "error"), true);
            }
            yield return item;
            if (last)
                yield break;
        }
    }

    /// <summary>Counts an SSE stream as closed however it ends (completed, refused, the client gone).</summary>
    private sealed class Closed(HostMetrics metrics) : IDisposable
    {
        public void Dispose() => metrics.SseClosed();
    }

    private static (SseItem<string> Item, bool Last) ToSse(ReplyEvent e) => e switch
    {
        ReplyChunk c => (new SseItem<string>(Json(new { taskId = c.TaskId, index = c.Index, text = c.Text }), "chunk")
            { EventId = c.TaskId + ":" + c.Index.ToString(System.Globalization.CultureInfo.InvariantCulture) }, false),
        ReplyToolCall t => (new SseItem<string>(Json(new
            {
                taskId = t.TaskId, index = t.Index, callId = t.CallId, name = t.Name, arguments = ToolDto.ToolArguments(t.Arguments),
                status = ToolDto.ToolStatus(t.Status),
            }), "tool_call") { EventId = EventId(t.TaskId, t.Index) }, false),
        ReplyToolResult r => (new SseItem<string>(Json(new
            {
                taskId = r.TaskId, index = r.Index, callId = r.CallId, name = r.Name, status = ToolDto.ToolStatus(r.Status), preview = r.Preview,
            }), "tool_result") { EventId = EventId(r.TaskId, r.Index) }, false),
        // The chunks since the previous step are not the JSON asked for: drop them, the model repairs its reply next.
        ReplyRepair r => (new SseItem<string>(Json(new { taskId = r.TaskId, index = r.Index, errors = r.Errors }), "repair")
            { EventId = EventId(r.TaskId, r.Index) }, false),
        ReplyCompleted done => (new SseItem<string>(Json(new { taskId = done.TaskId, text = done.Text, stats = StatsDto.From(done.Stats), output = done.Output }), "completed"), true),
        ReplyFailed f => (new SseItem<string>(Json(new { taskId = f.TaskId, code = f.Code, detail = f.Detail, partialText = f.PartialText }), "error"), true),
        _ => throw new InvalidOperationException("unknown reply event"),
    };

    private static string EventId(string taskId, long index) => taskId + ":" + index.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static string Json(object value) => JsonSerializer.Serialize(value, JsonSerializerOptions.Web);
}
