using PromptActors.Instances;

namespace PromptActors.Engine;

/// <summary>Decisions on the tool calls a turn waits for, and the results of client tools.</summary>
public sealed partial class PromptExecutionEngine
{
    public async Task<ToolCallDecision> DecideToolCallAsync(string instanceId, string callId, bool approve, string? reason = null,
        CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrEmpty(callId) || callId.Length > 256)
            throw new ValidationFailedException("callId must be 1-256 characters");
        if (reason is { Length: > InstanceDecider.MaxDecisionReason })
            throw new ValidationFailedException($"reason must be at most {InstanceDecider.MaxDecisionReason} characters");
        var (decision, _) = await AskOwnAsync<ToolCallDecision>(instanceId,
            id => new DecideToolCall(id, callId, approve, reason, _keyId, _caller), cancellationToken);
        return decision with { InstanceId = Outward(decision.InstanceId) };
    }

    public async Task<ToolResultsAccepted> SubmitToolResultsAsync(string instanceId, IReadOnlyList<ClientToolResult> results,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(results);
        var (accepted, _) = await AskOwnAsync<ToolResultsAccepted>(instanceId,
            id => new SubmitToolResults(id, results.ToArray(), _caller), cancellationToken);
        return accepted with { InstanceId = Outward(accepted.InstanceId) };
    }
}
