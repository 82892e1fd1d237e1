using System.Data.Common;
using System.Text;
using PromptActors.Persistence.Sql;
using PromptActors.Prompts;
using PromptActors.Runs;
using PromptActors.Variables;

namespace PromptActors.Persistence.Runs;

/// <summary>
/// <c>ai_runs</c> and <c>ai_tasks</c>. One write = one transaction: create the run row if missing, upsert the task row
/// keyed by task_id (the database refuses to move a terminal row back), then recompute the run's totals from its task
/// rows. Every write is constant-size, however long the conversation: the transcript is never stored, it is derived
/// from the task rows on read (and by the <c>ai_run_messages</c> view).
/// </summary>
internal sealed partial class SqlRunStore : IRunStore, IAsyncDisposable
{
    public const string Service = "prompt-actors";
    public const string TaskName = "execute_message";

    private const string Terminal = "'completed', 'failed', 'cancelled'";

    private const string RunColumns =
        "id, user_id, org_id, project_id, source_type, source_id, name, prompt_id, prompt_version, settings, variable_values, created_at, " +
        "instance_id";

    private const string TaskColumns =
        "task_id, run_id, provider, model, request_data, created_at, status, response_text, response_errors, " +
        "tokens_input, tokens_output, tokens_total, cost, time_to_first_token, total_time, completed_at, updated_at, seq, key_id, step, turn_task_id";

    private const string InsertRunSql = """
        INSERT INTO ai_runs (id, user_id, org_id, project_id, source_type, source_id, name, prompt_id, prompt_version,
                             settings, variable_values, created_at, status, updated_at, instance_id)
        VALUES (@run_id, @user_id, @org_id, @project_id, @source_type, @source_id, @name, @prompt_id, @prompt_version,
                @settings, @variable_values, @run_created_at, 'running', @run_created_at, @instance_id)
        ON CONFLICT (id) DO NOTHING
        """;

    private const string TaskValues = """
        provider = @provider,
        model = @model,
        request_data = @request_data,
        created_at = @created_at,
        status = @status,
        response_text = @response_text,
        response_errors = @response_errors,
        tokens_input = @tokens_input,
        tokens_output = @tokens_output,
        tokens_total = @tokens_total,
        cost = @cost,
        time_to_first_token = @time_to_first_token,
        total_time = @total_time,
        completed_at = @completed_at,
        updated_at = @updated_at
        """;

    // The "never move a terminal row back" rule is in the WHERE clause: the database enforces it. A plain UPDATE serves
    // the common case (the row exists); unlike ON CONFLICT DO UPDATE it writes no row-lock record.
    private const string UpdateTaskSql = $"""
        UPDATE ai_tasks SET
        {TaskValues}
        WHERE task_id = @task_id AND status NOT IN ({Terminal})
        """;

    // Creates the task row when it is missing: a plain insert (no speculative insertion, one WAL record less than
    // ON CONFLICT); two writers of one task never race here, they are serialized by the run lock.
    private const string InsertTaskIfMissingSql = """
        INSERT INTO ai_tasks (task_id, run_id, user_id, service, task_name, provider, model, request_data, created_at, seq,
                              status, response_text, response_errors, tokens_input, tokens_output, tokens_total, cost,
                              time_to_first_token, total_time, completed_at, updated_at, key_id)
        SELECT @task_id, @run_id, @user_id, @service, @task_name, @provider, @model, @request_data, @created_at, @seq,
               @status, @response_text, @response_errors, @tokens_input, @tokens_output, @tokens_total, @cost,
               @time_to_first_token, @total_time, @completed_at, @updated_at, @key_id
        WHERE NOT EXISTS (SELECT 1 FROM ai_tasks WHERE task_id = @task_id)
        """;

    private const int MaxBatch = 256;

    // Run ids bound in one "run_id IN (...)" when listing; well under SQLite's parameter limit.
    private const int RunIdsPerQuery = 500;

    private readonly SqlDialect _dialect;
    private readonly string _refreshTotalsSql;
    private readonly string _pendingWriteSql;
    private readonly string _laterWriteSql;

    // PostgreSQL: writes of all instances on this node queue here and go to the database in batches (see WriteBatchAsync).
    private readonly WriteBatcher<Write>? _writes;

    /// <summary>A queued write: a task row, or only its streaming mark.</summary>
    private sealed record Write(RunTaskRecord Task, bool StreamingMark);

    /// <param name="linger">How long the writer waits before it sends a batch (see <see cref="StorageOptions.RunWriteLinger"/>).</param>
    public SqlRunStore(SqlDialect dialect, TimeSpan linger = default, TimeProvider? time = null)
    {
        _dialect = dialect;
        var userMessage = dialect.JsonText("request_data", "userMessage");
        // Same rules as RunTotals.Build: every row (every model call) counts tokens and cost; a completed turn (step 0)
        // adds its user message (when it had one) and the assistant reply to the transcript. A write that changes no total (a retry of a final
        // row, a late progress write) leaves the run row alone: no new row version, no WAL.
        var refreshTotals = $"""
            UPDATE ai_runs SET
                status = n.status,
                total_tokens = n.tokens,
                total_cost = n.cost,
                message_count = n.messages,
                task_count = n.tasks,
                last_message_at = n.last_message_at,
                updated_at = n.updated_at
            FROM (
                SELECT CASE WHEN a.open_tasks > 0 THEN 'running' ELSE 'idle' END AS status,
                       a.tokens, a.cost, a.messages, a.tasks, a.last_message_at,
                       CASE WHEN a.last_update > r.created_at THEN a.last_update ELSE r.created_at END AS updated_at
                FROM ai_runs r, (
                    SELECT COALESCE(SUM(CASE WHEN step = 0 THEN 1 ELSE 0 END), 0) AS tasks,
                           COALESCE(SUM(tokens_total), 0) AS tokens,
                           COALESCE(SUM(cost), 0) AS cost,
                           COALESCE(SUM(CASE WHEN status = 'completed' AND step = 0
                                             THEN CASE WHEN {userMessage} IS NULL THEN 1 ELSE 2 END
                                             ELSE 0 END), 0) AS messages,
                           MAX(CASE WHEN status = 'completed' AND step = 0 THEN COALESCE(completed_at, updated_at) END) AS last_message_at,
                           COALESCE(SUM(CASE WHEN status IN ('pending', 'streaming') THEN 1 ELSE 0 END), 0) AS open_tasks,
                           MAX(updated_at) AS last_update
                    FROM ai_tasks
                    WHERE run_id = @run_id
                ) AS a
                WHERE r.id = @run_id
            ) AS n
            WHERE ai_runs.id = @run_id
              AND (ai_runs.status, ai_runs.total_tokens, ai_runs.total_cost, ai_runs.message_count, ai_runs.task_count,
                   ai_runs.last_message_at, ai_runs.updated_at)
                  {dialect.IsDistinctFrom}
                  (n.status, n.tokens, n.cost, n.messages, n.tasks, n.last_message_at, n.updated_at)
            """;
        _refreshTotalsSql = refreshTotals;
        var serialize = dialect.SerializeRunWritersSql is { } lockSql ? lockSql + ";\n" : "";
        // One command per write. PostgreSQL runs its statements as one implicit transaction in one round trip; SQLite
        // runs them inside a write transaction. The run lock comes first, so the writers of one run take turns and each
        // computes the totals after every earlier writer committed.
        // A first (pending) write creates the row; one that exists is already pending or further along.
        _pendingWriteSql = $"{serialize}{InsertRunSql};\n{InsertTaskIfMissingSql};\n{refreshTotals}";
        // Later writes update the row unless it is final (the database refuses to move a final row back), and create it
        // when the first write was lost.
        _laterWriteSql = $"{serialize}{InsertRunSql};\n{UpdateTaskSql};\n{InsertTaskIfMissingSql};\n{refreshTotals}";
        if (dialect.BatchesRunWrites)
        {
            _writes = new WriteBatcher<Write>(WriteBatchAsync, static _ => 1, MaxBatch, writers: 1, RunStoreMetrics.BatchTaken,
                startOnCaller: false, linger: linger, time: time);
        }
    }

    public Task UpsertTaskAsync(RunTaskRecord task, CancellationToken cancellationToken = default) =>
        Enqueue(new Write(task, StreamingMark: false)) ?? WriteOneAsync(task, cancellationToken);

    public Task MarkStreamingAsync(RunTaskRecord task, CancellationToken cancellationToken = default) =>
        Enqueue(new Write(task, StreamingMark: true)) ?? MarkStreamingOneAsync(task, cancellationToken);

    private Task? Enqueue(Write write) => _writes?.WriteAsync(write);

    // One writer per node: it takes every write that queued while the previous batch was in flight (up to MaxBatch) and
    // sends them in one round trip, run as one implicit transaction (WriteBatcher). Under load that turns the two or three
    // commits per turn into a fraction of one. The statements are the same as for a single write: the runs' locks (all of
    // them first, in hash order, so writers on other nodes cannot deadlock with this one), each run created once, the task
    // rows in queue order, then each run's totals once. A failed batch is retried write by write.

    private async Task WriteBatchAsync(IReadOnlyList<Write> batch)
    {
        var runs = new Dictionary<string, RunInfo>(StringComparer.Ordinal);
        foreach (var w in batch)
        {
            if (!w.StreamingMark)
                runs.TryAdd(w.Task.Run.RunId, w.Task.Run);
        }
        var statements = new List<SqlBatchStatement>(batch.Count * 3 + runs.Count * 2 + 1);
        if (runs.Count > 0)
        {
            var lockRuns = new SqlBatchStatement(_dialect.SerializeRunsWritersSql!);
            lockRuns.Bind("run_ids", runs.Keys.ToArray(), SqlType.TextArray);
            statements.Add(lockRuns);
            foreach (var run in runs.Values)
            {
                var insertRun = new SqlBatchStatement(InsertRunSql);
                BindRun(insertRun, run);
                statements.Add(insertRun);
            }
        }
        foreach (var w in batch)
        {
            if (w.StreamingMark)
            {
                var mark = new SqlBatchStatement(MarkStreamingSql);
                mark.Text("task_id", w.Task.TaskId).Timestamp("updated_at", w.Task.UpdatedAt);
                statements.Add(mark);
                continue;
            }
            if (w.Task.Status != RunTaskStatus.Pending)
            {
                var update = new SqlBatchStatement(UpdateTaskSql);
                BindTask(update, w.Task);
                statements.Add(update);
            }
            var insert = new SqlBatchStatement(InsertTaskIfMissingSql);
            BindTask(insert, w.Task);
            statements.Add(insert);
            AddSteps(statements, w.Task);
            AddLedger(statements, w.Task);
        }
        foreach (var runId in runs.Keys)
        {
            var refresh = new SqlBatchStatement(_refreshTotalsSql);
            refresh.Text("run_id", runId);
            statements.Add(refresh);
        }
        await using var session = await SqlSession.OpenAsync(_dialect, CancellationToken.None).ConfigureAwait(false);
        await session.ExecuteBatchAsync(statements, CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>
    /// Stops taking writes and finishes the ones already queued, for up to 30 seconds (a database that is down would
    /// otherwise hold shutdown). Writes left unfinished are not lost: each instance's journal still lists them as
    /// unsynced, and the outbox writes them again after the restart.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (_writes is null)
            return;
        _writes.Complete();
        try
        {
            await _writes.Completion.WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // see above
        }
    }

    /// <summary>One write on its own: one command (PostgreSQL: one implicit transaction; SQLite: in a write transaction).</summary>
    private async Task WriteOneAsync(RunTaskRecord task, CancellationToken cancellationToken)
    {
        // A final row of a turn with more model calls or with tool calls writes those rows too: one transaction for all of it.
        var atomic = _dialect.StatementsRunAtomically && !WritesMoreRows(task);
        await using var session = atomic
            ? await SqlSession.OpenAsync(_dialect, cancellationToken)
            : await SqlSession.BeginWriteAsync(_dialect, cancellationToken);
        var statement = session.Sql(task.Status == RunTaskStatus.Pending ? _pendingWriteSql : _laterWriteSql);
        BindTask(statement, task);
        BindRun(statement, task.Run, runKeys: false);
        await statement.ExecuteAsync(cancellationToken);
        if (StepsOf(task).Any())
        {
            // The later model calls' rows count in the run's totals: computed again once they are in.
            await WriteStepsAsync(session, task, cancellationToken);
            await session.Sql(_refreshTotalsSql).Text("run_id", task.Run.RunId).ExecuteAsync(cancellationToken);
        }
        await WriteLedgerAsync(session, task, cancellationToken);
        if (!atomic)
            await session.CommitAsync(cancellationToken);
    }

    private static void BindRun(ISqlBinder b, RunInfo run, bool runKeys = true)
    {
        if (runKeys)
            b.Text("run_id", run.RunId).Text("user_id", run.UserId);
        b.Text("org_id", run.OrgId)
            .Text("project_id", run.ProjectId)
            .Text("source_type", run.SourceType)
            .Text("source_id", run.SourceId)
            .Text("name", run.Name)
            .Text("prompt_id", run.PromptId)
            .Int32("prompt_version", run.PromptVersion)
            .Json("settings", StorageJson.Serialize(run.Settings))
            .Json("variable_values", StorageJson.Serialize(run.VariableValues))
            .Timestamp("run_created_at", run.CreatedAt)
            .Text("instance_id", run.InstanceId);
    }

    // Only status and updated_at change: a small HOT update, no run row write (the totals do not move), no lock.
    private const string MarkStreamingSql = """
        UPDATE ai_tasks SET status = 'streaming', updated_at = @updated_at
        WHERE task_id = @task_id AND status = 'pending'
        """;

    private async Task MarkStreamingOneAsync(RunTaskRecord task, CancellationToken cancellationToken)
    {
        await using var session = await SqlSession.OpenAsync(_dialect, cancellationToken);
        await session.Sql(MarkStreamingSql)
            .Text("task_id", task.TaskId)
            .Timestamp("updated_at", task.UpdatedAt)
            .ExecuteAsync(cancellationToken);
    }

    private static void BindTask(ISqlBinder statement, RunTaskRecord task)
    {
        var errors = task.ErrorCode is null && task.ErrorDetail is null
            ? null
            : StorageJson.Serialize(new TaskErrors(task.ErrorCode, task.ErrorDetail));
        var own = OwnFigures(task);
        statement
            .Text("task_id", task.TaskId)
            .Text("run_id", task.Run.RunId)
            .Text("user_id", task.Run.UserId)
            .Text("service", Service)
            .Text("task_name", TaskName)
            .Text("provider", task.Provider)
            .Text("model", task.Model)
            .Json("request_data", StorageJson.Serialize(new TaskRequest(task.UserMessage, task.Settings, task.Parts)))
            .Timestamp("created_at", task.CreatedAt)
            .Int32("seq", task.Sequence)
            .Text("status", StatusName(task.Status))
            .Text("response_text", task.ResponseText)
            .Json("response_errors", errors)
            .Int64("tokens_input", own.Input)
            .Int64("tokens_output", own.Output)
            .Int64("tokens_total", own.Total)
            .Money("cost", own.Cost)
            .Double("time_to_first_token", own.Ttft)
            .Double("total_time", own.Time)
            .Timestamp("completed_at", task.CompletedAt)
            .Timestamp("updated_at", task.UpdatedAt)
            .Text("key_id", task.KeyId);
    }
}
