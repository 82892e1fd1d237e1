namespace PromptActors.Runs;

/// <summary>Derives a run's totals and transcript from its task rows (shared by every store).</summary>
public static class RunTotals
{
    public static RunRecord Build(RunInfo info, IEnumerable<RunTaskRecord> taskRows)
    {
        var tasks = taskRows.OrderBy(t => t.Sequence).ThenBy(t => t.CreatedAt).ThenBy(t => t.TaskId, StringComparer.Ordinal).ToList();
        var messages = new List<RunMessage>();
        long tokens = 0;
        decimal cost = 0;
        DateTimeOffset? last = null;
        var updated = info.CreatedAt;
        foreach (var t in tasks)
        {
            tokens += t.TokensTotal;
            cost += t.Cost;
            if (t.UpdatedAt > updated)
                updated = t.UpdatedAt;
            if (t.Status != RunTaskStatus.Completed)
                continue;
            if (t.UserMessage is not null)
                messages.Add(new RunMessage("user", t.UserMessage, t.TaskId, t.CreatedAt));
            var at = t.CompletedAt ?? t.UpdatedAt;
            messages.Add(new RunMessage("assistant", t.ResponseText ?? string.Empty, t.TaskId, at));
            last = at;
        }
        var status = tasks.Any(t => !t.IsTerminal) ? "running" : "idle";
        return new RunRecord(info, status, tokens, cost, messages.Count, tasks.Count, info.CreatedAt, updated, last, messages, tasks);
    }
}
