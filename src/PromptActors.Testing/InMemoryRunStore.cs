using PromptActors.Runs;

namespace PromptActors.Testing;

/// <summary>A thread-safe in-memory <see cref="IRunStore"/> with the same idempotency rules as the SQL store.</summary>
public sealed class InMemoryRunStore : IRunStore
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, RunInfo> _runs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, RunTaskRecord> _tasks = new(StringComparer.Ordinal);
    private int _writes;

    /// <summary>When set, every write throws it (simulates an outage); clear it to let the outbox catch up.</summary>
    public Exception? FailWritesWith { get; set; }

    /// <summary>Number of successful upserts.</summary>
    public int WriteCount => Volatile.Read(ref _writes);

    public IReadOnlyList<RunTaskRecord> Tasks
    {
        get
        {
            lock (_gate)
                return _tasks.Values.ToArray();
        }
    }

    public Task UpsertTaskAsync(RunTaskRecord task, CancellationToken cancellationToken = default)
    {
        if (FailWritesWith is { } failure)
            return Task.FromException(failure);
        lock (_gate)
        {
            _runs.TryAdd(task.Run.RunId, task.Run);
            // A terminal row is final: retries of it and late progress writes leave it as it is. A pending write only
            // creates the row: one that exists is already pending or further along.
            if (!_tasks.TryGetValue(task.TaskId, out var existing)
                || (!existing.IsTerminal && task.Status != RunTaskStatus.Pending))
                _tasks[task.TaskId] = task;
            Interlocked.Increment(ref _writes);
        }
        return Task.CompletedTask;
    }

    public Task MarkStreamingAsync(RunTaskRecord task, CancellationToken cancellationToken = default)
    {
        if (FailWritesWith is { } failure)
            return Task.FromException(failure);
        lock (_gate)
        {
            // As the SQL store: only a pending row moves on; a missing or further row is left alone.
            if (_tasks.TryGetValue(task.TaskId, out var existing) && existing.Status == RunTaskStatus.Pending)
                _tasks[task.TaskId] = existing with { Status = RunTaskStatus.Streaming, UpdatedAt = task.UpdatedAt };
            Interlocked.Increment(ref _writes);
        }
        return Task.CompletedTask;
    }

    public Task<RunRecord?> GetRunAsync(string runId, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (!_runs.TryGetValue(runId, out var info))
                return Task.FromResult<RunRecord?>(null);
            return Task.FromResult<RunRecord?>(RunTotals.Build(info, _tasks.Values.Where(t => t.Run.RunId == runId)));
        }
    }

    public Task<IReadOnlyList<UnfinishedTask>> FindUnfinishedTasksAsync(DateTimeOffset updatedBefore, DateTimeOffset createdAfter,
        int limit, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            IReadOnlyList<UnfinishedTask> found = _tasks.Values
                .Where(t => !t.IsTerminal && t.Run.InstanceId is not null && t.CreatedAt > createdAfter && t.UpdatedAt < updatedBefore)
                .OrderBy(t => t.UpdatedAt)
                .Take(limit)
                .Select(t => new UnfinishedTask(t.TaskId, t.Run.RunId, t.Run.InstanceId!, t.Status, t.UpdatedAt))
                .ToArray();
            return Task.FromResult(found);
        }
    }

    public Task<IReadOnlyList<RunRecord>> ListRunsAsync(string userId, int limit = 100, CancellationToken cancellationToken = default) =>
        List(r => r.UserId == userId, limit);

    public Task<IReadOnlyList<RunRecord>> ListRunsAsync(Variables.InstanceScope scope, int limit = 100,
        CancellationToken cancellationToken = default) =>
        List(r => r.UserId == scope.UserId && r.OrgId == scope.OrgId && r.ProjectId == scope.ProjectId, limit);

    private Task<IReadOnlyList<RunRecord>> List(Func<RunInfo, bool> match, int limit)
    {
        lock (_gate)
        {
            IReadOnlyList<RunRecord> runs = _runs.Values
                .Where(match)
                .OrderByDescending(r => r.CreatedAt)
                .Take(limit)
                .Select(r => RunTotals.Build(r, _tasks.Values.Where(t => t.Run.RunId == r.RunId)))
                .ToArray();
            return Task.FromResult(runs);
        }
    }
}
