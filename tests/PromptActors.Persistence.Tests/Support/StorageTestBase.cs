using PromptActors.Persistence.Sql;

namespace PromptActors.Persistence.Tests.Support;

/// <summary>A migrated <see cref="PromptActorsStorage"/> on a fresh database for every test, plus raw SQL for assertions.</summary>
public abstract class StorageTestBase(ITestDatabases databases) : IAsyncLifetime
{
    protected ITestDatabases Databases => databases;
    protected StorageOptions Options { get; private set; } = null!;
    protected PromptActorsStorage Storage { get; private set; } = null!;
    protected bool IsPostgres => databases.Provider == StorageOptions.Postgres;

    public virtual async Task InitializeAsync()
    {
        Options = await databases.CreateDatabaseAsync();
        Storage = PromptActorsStorage.Create(Options);
        await Storage.InitializeAsync();
    }

    public virtual async Task DisposeAsync() => await Storage.DisposeAsync();

    /// <summary>The stored columns of one ai_runs row (money read in each dialect's representation).</summary>
    protected async Task<StoredRun?> StoredRunAsync(string runId)
    {
        await using var session = await SqlSession.OpenAsync(Storage.Dialect, default);
        var rows = await session.Sql("""
                SELECT status, total_tokens, total_cost, message_count, task_count, last_message_at, updated_at
                FROM ai_runs WHERE id = @id
                """)
            .Text("id", runId)
            .QueryAsync(r => new StoredRun(r.GetString(0), r.GetInt64(1), Storage.Dialect.ReadMoney(r, 2), r.GetInt32(3),
                r.GetInt32(4), r.IsDBNull(5) ? null : Storage.Dialect.ReadTimestamp(r, 5), Storage.Dialect.ReadTimestamp(r, 6)),
                default);
        return rows.SingleOrDefault();
    }

    /// <summary>Every ai_tasks row (one per model call): task id, run id, status, tokens_total, cost, errors, step, turn.</summary>
    protected async Task<List<StoredTask>> StoredTasksAsync()
    {
        await using var session = await SqlSession.OpenAsync(Storage.Dialect, default);
        return await session.Sql("""
                SELECT task_id, run_id, status, tokens_total, cost, response_errors, step, turn_task_id
                FROM ai_tasks ORDER BY created_at, task_id
                """)
            .QueryAsync(r => new StoredTask(r.GetString(0), r.GetString(1), r.GetString(2), r.GetInt64(3),
                Storage.Dialect.ReadMoney(r, 4), r.IsDBNull(5) ? null : r.GetString(5), r.GetInt32(6), r.GetStringOrNull(7)), default);
    }

    protected async Task<long> CountAsync(string table)
    {
        await using var session = await SqlSession.OpenAsync(Storage.Dialect, default);
        return Convert.ToInt64(await session.Sql($"SELECT COUNT(*) FROM {table}").ScalarAsync(default));
    }

    /// <summary>Asserts the run row's totals equal what its task rows add up to (the invariant every write keeps).</summary>
    protected async Task AssertTotalsMatchTaskRowsAsync(string runId)
    {
        var run = await StoredRunAsync(runId);
        Assert.NotNull(run);
        var tasks = (await StoredTasksAsync()).Where(t => t.RunId == runId).ToList();
        Assert.Equal(tasks.Sum(t => t.TokensTotal), run.TotalTokens);
        Assert.Equal(tasks.Sum(t => t.Cost), run.TotalCost);
        Assert.Equal(tasks.Count(t => t.Step == 0), run.TaskCount); // turns; a turn's later model calls are rows of it
    }
}

public sealed record StoredRun(string Status, long TotalTokens, decimal TotalCost, int MessageCount, int TaskCount,
    DateTimeOffset? LastMessageAt, DateTimeOffset UpdatedAt);

public sealed record StoredTask(string TaskId, string RunId, string Status, long TokensTotal, decimal Cost, string? Errors,
    int Step = 0, string? TurnTaskId = null);
