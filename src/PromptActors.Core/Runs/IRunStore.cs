namespace PromptActors.Runs;

/// <summary>ai_runs / ai_tasks. Implementations: <see cref="Testing.InMemoryRunStore"/>, the SQL store in PromptActors.Persistence.</summary>
public interface IRunStore
{
    /// <summary>
    /// Idempotent upsert keyed by task id: creates the run row when missing, writes the task row unless the stored row
    /// is already terminal and this one is not, and refreshes the run's totals from its task rows.
    /// </summary>
    Task UpsertTaskAsync(RunTaskRecord task, CancellationToken cancellationToken = default);

    Task<RunRecord?> GetRunAsync(string runId, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<RunRecord>> ListRunsAsync(string userId, int limit = 100, CancellationToken cancellationToken = default);
}
