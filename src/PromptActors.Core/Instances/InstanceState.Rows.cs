using PromptActors.Models;
using PromptActors.Runs;
using PromptActors.Tools;

namespace PromptActors.Instances;

/// <summary>The run-store rows a finished turn owes: its model calls (one ai_tasks row each) and its tool calls.</summary>
public sealed partial class InstanceState
{
    /// <summary>
    /// The turn's model calls, each with its own figures, when it made more than one (null otherwise: the turn's row is its
    /// one call). A call that asked for tools was costed by its <see cref="ToolCallsRequested"/>; the call the turn ended in
    /// is what the turn's totals add to the earlier ones.
    /// </summary>
    private static IReadOnlyList<ModelCallRecord>? ModelCallRows(CurrentTask turn, RunTaskStatus status, TokenUsage usage,
        decimal cost, double? callTtft, DateTimeOffset at)
    {
        var steps = turn.StepsSoFar;
        if (steps.Count == 1)
            return null;
        var rows = new List<ModelCallRecord>();
        foreach (var step in steps)
        {
            if (step is ModelCallStep { Ended: { } f } m)
                rows.Add(new ModelCallRecord(m.Iteration, m.Provider, m.Model, RunTaskStatus.Completed, f.Text, f.Usage.InputTokens,
                    f.Usage.OutputTokens, f.Usage.TotalTokens, f.Cost, f.TimeToFirstTokenMs, f.TotalTimeMs, m.StartedAt, f.At));
        }
        if (steps[^1] is ModelCallStep { Ended: null, Iteration: > 0 } last)
        {
            var earlier = turn.EarlierUsage;
            var input = usage.InputTokens - earlier.InputTokens;
            var output = usage.OutputTokens - earlier.OutputTokens;
            rows.Add(new ModelCallRecord(last.Iteration, last.Provider, last.Model, status, null, input, output, input + output,
                cost - (turn.CostSoFar ?? 0m), callTtft, Math.Max(0, (at - last.StartedAt).TotalMilliseconds), last.StartedAt, at));
        }
        return rows.Count > 1 ? rows : null;
    }

    /// <summary>The turn's tool calls as ai_tool_calls rows (null when it made none).</summary>
    private static IReadOnlyList<ToolCallRecord>? ToolLedger(CurrentTask turn)
    {
        List<ToolCallRecord>? rows = null;
        foreach (var step in turn.StepsSoFar)
        {
            if (step is not ToolCallsStep tools)
                continue;
            foreach (var c in tools.Calls)
            {
                (rows ??= new List<ToolCallRecord>()).Add(new ToolCallRecord(c.CallId, c.Name, c.Arguments,
                    System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(c.Status.ToString()), c.Result, tools.Iteration,
                    c.Policy == ToolPolicy.Idempotent ? "idempotent" : "at_most_once",
                    c.Approved switch { true => "approved", false => "rejected", null => null }, c.DecidedBy, c.Reason,
                    tools.StartedAt, c.StartedAt, c.FinishedAt, c.DurationMs));
            }
        }
        return rows;
    }
}
