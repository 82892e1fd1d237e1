namespace PromptActors.Runs;

/// <summary>ai_runs / ai_tasks. Implementations: the in-memory store of PromptActors.Testing, the SQL store in PromptActors.Persistence.</summary>
public interface IRunStore
{
    /// <summary>
    /// Idempotent upsert keyed by task id: creates the run row when missing, writes the task row unless the stored row
    /// is already terminal and this one is not, and refreshes the run's totals from its task rows.
    /// </summary>
    Task UpsertTaskAsync(RunTaskRecord task, CancellationToken cancellationToken = default);

    /// <summary>
    /// Best-effort progress: the task's first token arrived, so its <c>pending</c> row becomes <c>streaming</c>. Stores may
    /// make this one small update that leaves the run's totals alone (nothing they count changed); a row that is missing or
    /// already further along is left as it is. The default writes the whole row with <see cref="UpsertTaskAsync"/>.
    /// </summary>
    Task MarkStreamingAsync(RunTaskRecord task, CancellationToken cancellationToken = default) =>
        UpsertTaskAsync(task, cancellationToken);

    Task<RunRecord?> GetRunAsync(string runId, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<RunRecord>> ListRunsAsync(string userId, int limit = 100, CancellationToken cancellationToken = default);

    /// <summary>
    /// The newest runs of exactly this scope: the user, and the org and project (a null part matches only runs without one).
    /// </summary>
    Task<IReadOnlyList<RunRecord>> ListRunsAsync(Variables.InstanceScope scope, int limit = 100, CancellationToken cancellationToken = default);

    /// <summary>
    /// Task rows still <c>pending</c> or <c>streaming</c> that were created after <paramref name="createdAfter"/> and not
    /// updated since <paramref name="updatedBefore"/>, oldest first, with the instance that owns them (rows of runs without a
    /// recorded instance are left out). The task sweeper uses it to wake instances whose node died mid-task. Stores that
    /// cannot answer return nothing (the default).
    /// </summary>
    Task<IReadOnlyList<UnfinishedTask>> FindUnfinishedTasksAsync(DateTimeOffset updatedBefore, DateTimeOffset createdAfter, int limit,
        CancellationToken cancellationToken = default) => Task.FromResult<IReadOnlyList<UnfinishedTask>>([]);
}

/// <summary>A task row left pending or streaming, and the instance that owns it.</summary>
public sealed record UnfinishedTask(string TaskId, string RunId, string InstanceId, RunTaskStatus Status, DateTimeOffset UpdatedAt);
