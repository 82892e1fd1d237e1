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

public static partial class ApiEndpoints
{
    /// <summary>POST /v1/instances/{id}/tool-results: <c>[{"callId":…, "result":…}]</c>, results of client tool calls.</summary>
    private static async Task<IResult> PostToolResults(string id, [FromBody] ToolResultBody[]? body, HttpContext http,
        IPromptExecutionEngine engine, CancellationToken ct)
    {
        if (body is not { Length: > 0 } || body.Any(r => r is null || r.CallId is null || r.Result is null))
            return Problems.Of(ErrorCodes.ValidationFailed, "the body must be a list of {\"callId\", \"result\"}");
        // A string result is given to the model as it is; any other JSON value as JSON text.
        var results = body.Select(r => new Instances.ClientToolResult(r.CallId!, r.Result!.Value.ValueKind == System.Text.Json.JsonValueKind.String
            ? r.Result.Value.GetString()! : System.Text.Json.JsonSerializer.Serialize(r.Result.Value))).ToArray();
        var accepted = await For(http, engine).SubmitToolResultsAsync(id, results, ct);
        return TypedResults.Ok(new { instanceId = accepted.InstanceId, taskId = accepted.TaskId, callIds = accepted.CallIds });
    }
}

/// <summary>One client tool result.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record ToolResultBody(string? CallId, System.Text.Json.JsonElement? Result);

/// <summary>The body of a decision on a tool call.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record DecisionBody(string? Decision, string? Reason = null);
