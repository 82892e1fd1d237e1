using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Mvc;
using PromptActors.Engine;

namespace PromptActors.Host.Api;

/// <summary>POST /v1/instances/{id}/approvals/{callId}: a person's decision on a tool call the turn waits for.</summary>
public static partial class ApiEndpoints
{
    private static async Task<IResult> DecideToolCall(string id, string callId, [FromBody] DecisionBody? body, HttpContext http,
        IPromptExecutionEngine engine, CancellationToken ct)
    {
        if (body?.Decision is not ("approve" or "reject"))
            return Problems.Of(ErrorCodes.ValidationFailed, "decision must be \"approve\" or \"reject\"");
        var decided = await For(http, engine).DecideToolCallAsync(id, callId, body.Decision == "approve", body.Reason, ct);
        return TypedResults.Ok(new
        {
            instanceId = decided.InstanceId, taskId = decided.TaskId, callId = decided.CallId,
            decision = decided.Approved ? "approve" : "reject",
        });
    }
}

/// <summary>The body of a decision on a tool call.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record DecisionBody(string? Decision, string? Reason = null);
