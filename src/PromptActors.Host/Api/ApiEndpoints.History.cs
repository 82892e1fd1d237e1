using System.Globalization;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Mvc;
using PromptActors.Engine;
using PromptActors.Instances;

namespace PromptActors.Host.Api;

/// <summary>GET /v1/instances/{id}/history: the journal in order and the state as of an event (the original's time travel).</summary>
public static partial class ApiEndpoints
{
    private static async Task<IResult> GetHistory(string id, string? at, HttpContext http, IPromptExecutionEngine engine,
        CancellationToken ct)
    {
        long? upTo = null;
        if (at is not null)
        {
            if (!long.TryParse(at, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n < 1)
                return Problems.Of(ErrorCodes.ValidationFailed, "at must be a sequence number of 1 or more");
            upTo = n;
        }
        var history = await For(http, engine).GetHistoryAsync(id, upTo, ct);
        return TypedResults.Ok(new
        {
            instanceId = history.InstanceId,
            at = history.At,
            lastSequenceNr = history.LastSequenceNr,
            events = history.Events.Select(e => new
            {
                sequenceNr = e.SequenceNr, at = e.At, kind = e.Kind, summary = e.Summary, taskId = e.TaskId, text = e.Text,
                variables = e.Variables, removed = e.Removed,
            }),
            state = new
            {
                status = history.State.Status,
                conversation = history.State.Conversation.Select(m => new
                {
                    role = PromptDto.Role(m.Role), content = m.Content, taskId = m.TaskId, timestamp = m.Timestamp,
                }),
                userValues = history.State.UserValues,
                taskCount = history.State.TaskCount,
                lastTaskId = history.State.LastTaskId,
                lastError = history.State.LastError is { } e ? new { taskId = e.TaskId, code = e.Code, detail = e.Detail } : null,
                totalTokens = history.State.TotalTokens,
                totalCost = history.State.TotalCost,
            },
        });
    }

    /// <summary>POST /v1/instances/{id}/fork: a new instance of the caller's with this one's state as of event <c>at</c>.</summary>
    private static async Task<IResult> Fork(string id, [FromBody] ForkBody? body, HttpContext http, IPromptExecutionEngine engine,
        CancellationToken ct)
    {
        if (body?.At is not { } at || at < 1)
            return Problems.Of(ErrorCodes.ValidationFailed, "at must be a sequence number of 1 or more (see GET …/history)");
        var view = await For(http, engine).ForkInstanceAsync(id, at, body.InstanceId, ct);
        return TypedResults.Created($"/v1/instances/{view.InstanceId}", InstanceDto.From(view));
    }
}

/// <summary>POST /v1/instances/{id}/fork</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record ForkBody(long? At, string? InstanceId = null);
