using System.Data.Common;
using System.Text;
using System.Threading.Channels;
using PromptActors.Persistence.Sql;
using PromptActors.Prompts;
using PromptActors.Runs;
using PromptActors.Variables;

namespace PromptActors.Persistence.Runs;

/// <summary>Reading runs and tasks: a run with its task rows, run lists by user or whole scope, unfinished tasks for the sweeper.</summary>
internal sealed partial class SqlRunStore
{
    public async Task<RunRecord?> GetRunAsync(string runId, CancellationToken cancellationToken = default)
    {
        await using var session = await SqlSession.OpenAsync(_dialect, cancellationToken);
        var runs = await session.Sql($"SELECT {RunColumns} FROM ai_runs WHERE id = @run_id")
            .Text("run_id", runId).QueryAsync(ReadRun, cancellationToken);
        if (runs.Count == 0)
            return null;
        var info = runs[0];
        var tasks = FoldSteps(await session.Sql($"SELECT {TaskColumns} FROM ai_tasks WHERE run_id = @run_id")
            .Text("run_id", runId).QueryAsync(r => ReadTask(r, info), cancellationToken));
        var ledger = await ReadLedgerAsync(session, runId, cancellationToken);
        if (ledger.Count > 0)
            tasks = tasks.Select(t => ledger.Contains(t.TaskId) ? t with { ToolCalls = ledger[t.TaskId].ToArray() } : t).ToList();
        return RunTotals.Build(info, tasks);
    }

    public Task<IReadOnlyList<RunRecord>> ListRunsAsync(string userId, int limit = 100, CancellationToken cancellationToken = default) =>
        ListAsync(new InstanceScope(userId), exactScope: false, limit, cancellationToken);

    public Task<IReadOnlyList<RunRecord>> ListRunsAsync(InstanceScope scope, int limit = 100, CancellationToken cancellationToken = default) =>
        ListAsync(scope, exactScope: true, limit, cancellationToken);

    private async Task<IReadOnlyList<RunRecord>> ListAsync(InstanceScope scope, bool exactScope, int limit, CancellationToken cancellationToken)
    {
        if (limit <= 0)
            return [];
        // The org and project filters ride on the (user_id, created_at) index: a user's runs are few enough to filter.
        var where = "user_id = @user_id";
        if (exactScope)
            where += (scope.OrgId is null ? " AND org_id IS NULL" : " AND org_id = @org_id")
                     + (scope.ProjectId is null ? " AND project_id IS NULL" : " AND project_id = @project_id");
        await using var session = await SqlSession.OpenAsync(_dialect, cancellationToken);
        var select = session.Sql($"SELECT {RunColumns} FROM ai_runs WHERE {where} ORDER BY created_at DESC, id DESC LIMIT @limit")
            .Text("user_id", scope.UserId).Int32("limit", limit);
        if (exactScope && scope.OrgId is { } org)
            select.Text("org_id", org);
        if (exactScope && scope.ProjectId is { } project)
            select.Text("project_id", project);
        var runs = await select.QueryAsync(ReadRun, cancellationToken);
        if (runs.Count == 0)
            return [];
        var byId = runs.ToDictionary(r => r.RunId, StringComparer.Ordinal);
        // The tasks of exactly the runs just read: repeating the "newest" subquery here would see a run started in
        // between, and the oldest listed run would come back without its tasks.
        var rows = new List<TaskRow>();
        foreach (var chunk in runs.Chunk(RunIdsPerQuery))
        {
            var sql = new StringBuilder($"SELECT {TaskColumns} FROM ai_tasks WHERE run_id IN (");
            for (var i = 0; i < chunk.Length; i++)
                sql.Append(i == 0 ? "@r0" : $", @r{i}");
            var statement = session.Sql(sql.Append(')').ToString());
            for (var i = 0; i < chunk.Length; i++)
                statement.Text($"r{i}", chunk[i].RunId);
            rows.AddRange(await statement.QueryAsync(r => ReadTask(r, byId[r.GetString(1)]), cancellationToken));
        }
        var tasks = FoldSteps(rows);
        var tasksByRun = tasks.ToLookup(t => t.Run.RunId, StringComparer.Ordinal);
        return runs.Select(info => RunTotals.Build(info, tasksByRun[info.RunId])).ToArray();
    }

    // Open rows of runs that record their instance, created within the window: a range of ai_tasks_created.
    private const string UnfinishedSql = """
        SELECT t.task_id, t.run_id, r.instance_id, t.status, t.updated_at
        FROM ai_tasks t
        JOIN ai_runs r ON r.id = t.run_id
        WHERE t.created_at > @created_after
          AND t.status IN ('pending', 'streaming')
          AND t.updated_at < @updated_before
          AND r.instance_id IS NOT NULL
        ORDER BY t.updated_at
        LIMIT @limit
        """;

    public async Task<IReadOnlyList<UnfinishedTask>> FindUnfinishedTasksAsync(DateTimeOffset updatedBefore, DateTimeOffset createdAfter,
        int limit, CancellationToken cancellationToken = default)
    {
        if (limit <= 0)
            return [];
        await using var session = await SqlSession.OpenAsync(_dialect, cancellationToken);
        return await session.Sql(UnfinishedSql)
            .Timestamp("created_after", createdAfter)
            .Timestamp("updated_before", updatedBefore)
            .Int32("limit", limit)
            .QueryAsync(r => new UnfinishedTask(r.GetString(0), r.GetString(1), r.GetString(2), ParseStatus(r.GetString(3)),
                _dialect.ReadTimestamp(r, 4)), cancellationToken);
    }

    private RunInfo ReadRun(DbDataReader r) => new(
        r.GetString(0),
        r.GetString(1),
        r.GetStringOrNull(2),
        r.GetStringOrNull(3),
        r.GetString(4),
        r.GetString(5),
        r.GetStringOrNull(6),
        r.GetString(7),
        r.GetInt32(8),
        StorageJson.Deserialize<PromptSettings>(r.GetString(9)),
        StorageJson.Deserialize<Dictionary<string, string>>(r.GetString(10)),
        _dialect.ReadTimestamp(r, 11),
        r.GetStringOrNull(12));

    private TaskRow ReadTask(DbDataReader r, RunInfo info)
    {
        var request = StorageJson.Deserialize<TaskRequest>(r.GetString(4));
        var errors = r.IsDBNull(8) ? null : StorageJson.Deserialize<TaskErrors>(r.GetString(8));
        return new TaskRow(new RunTaskRecord(
            info,
            r.GetString(0),
            r.GetString(2),
            r.GetString(3),
            request.UserMessage,
            ParseStatus(r.GetString(6)),
            r.GetStringOrNull(7),
            errors?.Code,
            errors?.Detail,
            r.GetInt64(9),
            r.GetInt64(10),
            r.GetInt64(11),
            _dialect.ReadMoney(r, 12),
            r.GetDoubleOrNull(13),
            r.GetDoubleOrNull(14),
            _dialect.ReadTimestamp(r, 5),
            _dialect.ReadTimestamp(r, 16),
            r.IsDBNull(15) ? null : _dialect.ReadTimestamp(r, 15),
            r.GetInt32(17),
            r.GetStringOrNull(18),
            request.Settings, Parts: request.Parts), r.GetInt32(19), r.GetStringOrNull(20));
    }

    internal static string StatusName(RunTaskStatus status) => status switch
    {
        RunTaskStatus.Pending => "pending",
        RunTaskStatus.Streaming => "streaming",
        RunTaskStatus.Completed => "completed",
        RunTaskStatus.Failed => "failed",
        RunTaskStatus.Cancelled => "cancelled",
        _ => throw new ArgumentOutOfRangeException(nameof(status), status, null),
    };

    private static RunTaskStatus ParseStatus(string name) => name switch
    {
        "pending" => RunTaskStatus.Pending,
        "streaming" => RunTaskStatus.Streaming,
        "completed" => RunTaskStatus.Completed,
        "failed" => RunTaskStatus.Failed,
        "cancelled" => RunTaskStatus.Cancelled,
        _ => throw new InvalidOperationException($"ai_tasks.status '{name}' is not a known status"),
    };

    /// <summary>
    /// ai_tasks.request_data: what the caller sent for this task (its own settings only when it set some; its parts, images
    /// and files by reference, only when it had some).
    /// </summary>
    private sealed record TaskRequest(string? UserMessage, PromptSettings? Settings = null,
        IReadOnlyList<PromptActors.Attachments.MessagePart>? Parts = null);

    /// <summary>ai_tasks.response_errors: why the task did not complete.</summary>
    private sealed record TaskErrors(string? Code, string? Detail);
}
