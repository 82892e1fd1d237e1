using PromptActors.Models;

namespace PromptActors.Instances;

/// <summary>A reply that is not the JSON asked for, and the model call that repairs it.</summary>
public sealed partial class InstanceState
{
    /// <summary>
    /// The invalid reply's call is closed with its own figures and the repairing call opens. The conversation is left as it
    /// was: the invalid reply and the request to fix it are the repairing call's input only (see <see cref="OutputRepair"/>),
    /// so a repaired turn keeps just the user's message and the valid reply.
    /// </summary>
    private void ApplyRepair(OutputRepairRequested r)
    {
        var turn = Current!;
        var steps = turn.StepsSoFar.ToList();
        if (steps[^1] is ModelCallStep call)
            steps[^1] = call with { Ended = new ModelCallFigures(r.Usage, r.Cost, r.TimeToFirstTokenMs, r.TotalTimeMs, r.At,
                r.Text.Length == 0 ? null : r.Text) };
        var index = turn.StreamIndex + r.ChunkCount;
        steps.Add(new ModelCallStep(turn.Model, turn.Provider, r.At, r.Iteration + 1, Repair: new OutputRepair(r.Text, r.Errors, r.ChunkCount, index)));
        var earlier = turn.EarlierUsage;
        Current = turn with
        {
            Steps = steps,
            UsageSoFar = earlier.Plus(r.Usage),
            CostSoFar = (turn.CostSoFar ?? 0m) + r.Cost,
            FirstTokenMs = turn.FirstTokenMs ?? r.TimeToFirstTokenMs,
            StreamIndex = index + 1,
        };
        Status = InstanceStatus.Executing;
        UpdatedAt = r.At;
    }
}
