using PromptActors.Persistence.Sql;
using PromptActors.Runs;

namespace PromptActors.Persistence.Runs;

/// <summary>
/// One ai_tasks row per model call. A turn that made more than one model call (<see cref="RunTaskRecord.ModelCalls"/>)
/// is its own row (step 0: the user's message, the turn's outcome and final reply, its first model call's figures) and
/// one row per later call (<c>{taskId}.{n}</c>, step n, <c>turn_task_id</c> the turn), inserted with the turn's final row
/// in the same transaction and never rewritten. Reads fold them back into one record per turn, the figures summed.
/// </summary>
internal sealed partial class SqlRunStore
{
    private const string InsertStepSql = """
        INSERT INTO ai_tasks (task_id, run_id, user_id, service, task_name, provider, model, request_data, created_at, seq,
                              status, response_text, tokens_input, tokens_output, tokens_total, cost, time_to_first_token,
                              total_time, completed_at, updated_at, key_id, step, turn_task_id)
        SELECT @task_id, @run_id, @user_id, @service, @task_name, @provider, @model, @request_data, @created_at, @seq,
               @status, @response_text, @tokens_input, @tokens_output, @tokens_total, @cost, @time_to_first_token,
               @total_time, @completed_at, @completed_at, @key_id, @step, @turn_task_id
        WHERE NOT EXISTS (SELECT 1 FROM ai_tasks WHERE task_id = @task_id)
        """;

    /// <summary>The rows of a final task row's later model calls (none for a progress row or a turn of one call).</summary>
    private static IEnumerable<ModelCallRecord> StepsOf(RunTaskRecord task) =>
        task.IsTerminal && task.ModelCalls is { Count: > 1 } calls ? calls.Where(c => c.Step > 0) : [];

    /// <summary>Whether a write of <paramref name="task"/> inserts rows besides the task row (then it needs a transaction).</summary>
    private static bool WritesMoreRows(RunTaskRecord task) => StepsOf(task).Any() || LedgerOf(task).Any();

    /// <summary>The figures of the turn's own row: its first model call's when it made more, else the turn's.</summary>
    private static (long Input, long Output, long Total, decimal Cost, double? Ttft, double? Time) OwnFigures(RunTaskRecord task) =>
        task.ModelCalls is { Count: > 1 } calls && calls[0] is { Step: 0 } first
            ? (first.TokensInput, first.TokensOutput, first.TokensTotal, first.Cost, first.TimeToFirstTokenMs, first.TotalTimeMs)
            : (task.TokensInput, task.TokensOutput, task.TokensTotal, task.Cost, task.TimeToFirstTokenMs, task.TotalTimeMs);

    private static void BindStep(ISqlBinder b, RunTaskRecord task, ModelCallRecord call) => b
        .Text("task_id", RunTaskRecord.StepTaskId(task.TaskId, call.Step))
        .Text("run_id", task.Run.RunId)
        .Text("user_id", task.Run.UserId)
        .Text("service", Service)
        .Text("task_name", TaskName)
        .Text("provider", call.Provider)
        .Text("model", call.Model)
        .Json("request_data", "{}")
        .Timestamp("created_at", call.StartedAt)
        .Int32("seq", task.Sequence)
        .Text("status", StatusName(call.Status))
        .Text("response_text", call.Text)
        .Int64("tokens_input", call.TokensInput)
        .Int64("tokens_output", call.TokensOutput)
        .Int64("tokens_total", call.TokensTotal)
        .Money("cost", call.Cost)
        .Double("time_to_first_token", call.TimeToFirstTokenMs)
        .Double("total_time", call.TotalTimeMs)
        .Timestamp("completed_at", call.CompletedAt)
        .Text("key_id", task.KeyId)
        .Int32("step", call.Step)
        .Text("turn_task_id", task.TaskId);

    private static void AddSteps(List<SqlBatchStatement> statements, RunTaskRecord task)
    {
        foreach (var call in StepsOf(task))
        {
            var insert = new SqlBatchStatement(InsertStepSql);
            BindStep(insert, task, call);
            statements.Add(insert);
        }
    }

    private static async Task WriteStepsAsync(SqlSession session, RunTaskRecord task, CancellationToken cancellationToken)
    {
        foreach (var call in StepsOf(task))
        {
            var insert = session.Sql(InsertStepSql);
            BindStep(insert, task, call);
            await insert.ExecuteAsync(cancellationToken);
        }
    }

    /// <summary>A row as read, with its step and its turn (null for a turn's own row).</summary>
    private readonly record struct TaskRow(RunTaskRecord Record, int Step, string? TurnTaskId);

    /// <summary>
    /// One record per turn: a turn's later model-call rows become its <see cref="RunTaskRecord.ModelCalls"/> and its
    /// tokens, cost and times become the turn's.
    /// </summary>
    private static List<RunTaskRecord> FoldSteps(IReadOnlyList<TaskRow> rows)
    {
        if (rows.All(r => r.Step == 0))
            return rows.Select(r => r.Record).ToList();
        var steps = rows.Where(r => r.Step > 0 && r.TurnTaskId is not null)
            .ToLookup(r => r.TurnTaskId!, StringComparer.Ordinal);
        var turns = new List<RunTaskRecord>();
        foreach (var row in rows)
        {
            if (row.Step > 0)
                continue;
            var t = row.Record;
            if (!steps.Contains(t.TaskId))
            {
                turns.Add(t);
                continue;
            }
            var first = new ModelCallRecord(0, t.Provider, t.Model, RunTaskStatus.Completed, null, t.TokensInput, t.TokensOutput,
                t.TokensTotal, t.Cost, t.TimeToFirstTokenMs, t.TotalTimeMs, t.CreatedAt,
                t.CreatedAt + TimeSpan.FromMilliseconds(t.TotalTimeMs ?? 0));
            var calls = new List<ModelCallRecord> { first };
            calls.AddRange(steps[t.TaskId].OrderBy(s => s.Step).Select(s => new ModelCallRecord(s.Step, s.Record.Provider, s.Record.Model,
                s.Record.Status, s.Record.ResponseText, s.Record.TokensInput, s.Record.TokensOutput, s.Record.TokensTotal, s.Record.Cost,
                s.Record.TimeToFirstTokenMs, s.Record.TotalTimeMs, s.Record.CreatedAt, s.Record.CompletedAt ?? s.Record.UpdatedAt)));
            turns.Add(t with
            {
                TokensInput = calls.Sum(c => c.TokensInput),
                TokensOutput = calls.Sum(c => c.TokensOutput),
                TokensTotal = calls.Sum(c => c.TokensTotal),
                Cost = calls.Sum(c => c.Cost),
                // The turn's first token is that of its first call that streamed text (as the engine counts it).
                TimeToFirstTokenMs = calls.Select(c => c.TimeToFirstTokenMs).FirstOrDefault(ms => ms is not null),
                TotalTimeMs = t.CompletedAt is { } done ? (done - t.CreatedAt).TotalMilliseconds : t.TotalTimeMs,
                ModelCalls = calls,
            });
        }
        return turns;
    }
}
