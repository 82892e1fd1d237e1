using System.Data.Common;
using PromptActors.Persistence.Sql;
using PromptActors.Runs;

namespace PromptActors.Persistence.Runs;

/// <summary>
/// <c>ai_tool_calls</c>: a task's tool calls, inserted with its final row in the same transaction (after it: the rows
/// reference it), keyed by (task_id, call_id). A repeated final write (the outbox retries until it is acknowledged)
/// inserts nothing, so every call has exactly one row.
/// </summary>
internal sealed partial class SqlRunStore
{
    private const string ToolCallColumns =
        "task_id, call_id, ordinal, run_id, tool, arguments, status, result, step, policy, decision, decided_by, reason, " +
        "requested_at, started_at, completed_at, duration_ms";

    private const string InsertToolCallSql = $"""
        INSERT INTO ai_tool_calls ({ToolCallColumns})
        VALUES (@task_id, @call_id, @ordinal, @run_id, @tool, @arguments, @status, @result, @step, @policy, @decision, @decided_by,
                @reason, @requested_at, @started_at, @completed_at, @duration_ms)
        ON CONFLICT (task_id, call_id) DO NOTHING
        """;

    /// <summary>The inserts of a final task row's tool calls (none for a progress row or a turn without tools).</summary>
    private static IEnumerable<(int Ordinal, ToolCallRecord Call)> LedgerOf(RunTaskRecord task) =>
        task.IsTerminal && task.ToolCalls is { Count: > 0 } calls ? calls.Select((c, i) => (i, c)) : [];

    private static void BindToolCall(ISqlBinder b, RunTaskRecord task, int ordinal, ToolCallRecord c) => b
        .Text("task_id", task.TaskId)
        .Text("call_id", c.CallId)
        .Int32("ordinal", ordinal)
        .Text("run_id", task.Run.RunId)
        .Text("tool", c.Tool)
        .Text("arguments", c.Arguments)
        .Text("status", c.Status)
        .Text("result", c.Result)
        .Int32("step", c.Step)
        .Text("policy", c.Policy)
        .Text("decision", c.Decision)
        .Text("decided_by", c.DecidedBy)
        .Text("reason", c.Reason)
        .Timestamp("requested_at", c.RequestedAt)
        .Timestamp("started_at", c.StartedAt)
        .Timestamp("completed_at", c.CompletedAt)
        .Double("duration_ms", c.DurationMs);

    private static void AddLedger(List<SqlBatchStatement> statements, RunTaskRecord task)
    {
        foreach (var (ordinal, call) in LedgerOf(task))
        {
            var insert = new SqlBatchStatement(InsertToolCallSql);
            BindToolCall(insert, task, ordinal, call);
            statements.Add(insert);
        }
    }

    private static async Task WriteLedgerAsync(SqlSession session, RunTaskRecord task, CancellationToken cancellationToken)
    {
        foreach (var (ordinal, call) in LedgerOf(task))
        {
            var insert = session.Sql(InsertToolCallSql);
            BindToolCall(insert, task, ordinal, call);
            await insert.ExecuteAsync(cancellationToken);
        }
    }

    /// <summary>The run's tool calls by task, in the order their turns made them.</summary>
    private async Task<ILookup<string, ToolCallRecord>> ReadLedgerAsync(SqlSession session, string runId, CancellationToken cancellationToken)
    {
        var rows = await session.Sql($"SELECT {ToolCallColumns} FROM ai_tool_calls WHERE run_id = @run_id ORDER BY task_id, ordinal")
            .Text("run_id", runId)
            .QueryAsync(r => (TaskId: r.GetString(0), Call: ReadToolCall(r)), cancellationToken);
        return rows.ToLookup(r => r.TaskId, r => r.Call, StringComparer.Ordinal);
    }

    private ToolCallRecord ReadToolCall(DbDataReader r) => new(
        r.GetString(1),
        r.GetString(4),
        r.GetString(5),
        r.GetString(6),
        r.GetStringOrNull(7),
        r.GetInt32(8),
        r.GetString(9),
        r.GetStringOrNull(10),
        r.GetStringOrNull(11),
        r.GetStringOrNull(12),
        _dialect.ReadTimestamp(r, 13),
        r.IsDBNull(14) ? null : _dialect.ReadTimestamp(r, 14),
        r.IsDBNull(15) ? null : _dialect.ReadTimestamp(r, 15),
        r.GetDoubleOrNull(16));
}
