using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using PromptActors.Instances;
using PromptActors.Models;
using PromptActors.Serialization;

namespace PromptActors.Bench.Infrastructure;

/// <summary>
/// The hand-written baseline's storage: plain Npgsql on the engine's own schema (ai_runs, ai_tasks from the engine's
/// migrations) plus a journal table with Akka.Persistence.Sql's PostgreSQL layout, holding the same events serialized
/// with the same JSON options. A turn is two transactions, each sent as one batch:
/// <list type="number">
/// <item>before the model call — INSERT journal (MessageSubmitted), INSERT ai_tasks (status pending),
/// INSERT ai_runs … ON CONFLICT (id) DO UPDATE (create the run, or mark it running and count the task);</item>
/// <item>after the stream — INSERT journal (ExecutionCompleted with text, usage, cost, TTFT), UPDATE ai_tasks (final
/// row), UPDATE ai_runs (totals incremented in the same transaction as the event, so they are exactly-once).</item>
/// </list>
/// No TaskSynced event and no separate progress rows are needed, because the run rows commit with the event.
/// </summary>
public sealed class HandWrittenStore : IAsyncDisposable
{
    // The tables are the engine's own: the databases the bench hands this store were migrated by PromptActorsStorage
    // (journal from migration 005, ai_runs / ai_tasks), so both write the same rows into the same schema.
    private const string InsertEvent = """
        INSERT INTO journal (deleted, persistence_id, sequence_number, created, message, identifier, manifest, writer_uuid)
        VALUES (false, $1, $2, $3, $4, $5, $6, $7)
        """;

    private static readonly JsonSerializerOptions Json = PromptActorsSerializer.CreateOptions(null);
    private readonly NpgsqlDataSource _data;
    private readonly string _writer = Guid.NewGuid().ToString();

    private HandWrittenStore(NpgsqlDataSource data) => _data = data;

    public static Task<HandWrittenStore> CreateAsync(string connectionString) =>
        // The pool settings the engine's stores use by default (no DISCARD ALL when a connection returns to the pool;
        // hot statements prepared).
        Task.FromResult(new HandWrittenStore(NpgsqlDataSource.Create(connectionString + ";No Reset On Close=true;Max Auto Prepare=64")));

    public NpgsqlDataSource DataSource => _data;

    /// <summary>A conversation of the baseline: its persistence id, run id and next sequence number.</summary>
    public sealed class Conversation(string id)
    {
        public string PersistenceId { get; } = "baseline-" + id;
        public string RunId { get; } = Guid.NewGuid().ToString("N");
        private long _sequence;

        public long Sequence { get => _sequence; set => _sequence = value; }

        /// <summary>The next sequence number, for events appended concurrently (a step's tool results).</summary>
        public long NextSequence() => Interlocked.Increment(ref _sequence);
        public int Turns { get; set; }
    }

    private NpgsqlBatchCommand Event(string persistenceId, long sequence, IInstanceEvent payload)
    {
        var (manifest, bytes) = PromptActorsSerializer.JournalForm(payload);
        var cmd = new NpgsqlBatchCommand(InsertEvent);
        cmd.Parameters.Add(new NpgsqlParameter { Value = persistenceId, NpgsqlDbType = NpgsqlDbType.Text });
        cmd.Parameters.Add(new NpgsqlParameter { Value = sequence, NpgsqlDbType = NpgsqlDbType.Bigint });
        cmd.Parameters.Add(new NpgsqlParameter { Value = DateTime.UtcNow.Ticks, NpgsqlDbType = NpgsqlDbType.Bigint });
        cmd.Parameters.Add(new NpgsqlParameter { Value = bytes, NpgsqlDbType = NpgsqlDbType.Bytea });
        cmd.Parameters.Add(new NpgsqlParameter { Value = PromptActorsSerializer.Id, NpgsqlDbType = NpgsqlDbType.Integer });
        cmd.Parameters.Add(new NpgsqlParameter { Value = manifest, NpgsqlDbType = NpgsqlDbType.Text });
        cmd.Parameters.Add(new NpgsqlParameter { Value = _writer, NpgsqlDbType = NpgsqlDbType.Text });
        return cmd;
    }

    /// <summary>One event in its own transaction (what a persist of one event costs).</summary>
    public async Task AppendAsync(string persistenceId, long sequence, IInstanceEvent payload, CancellationToken cancellationToken = default)
    {
        await using var c = await _data.OpenConnectionAsync(cancellationToken);
        await using var batch = new NpgsqlBatch(c);
        batch.BatchCommands.Add(Event(persistenceId, sequence, payload));
        await batch.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Several events of one writer in one transaction and one statement batch (PersistAll).</summary>
    public async Task AppendAllAsync(string persistenceId, long firstSequence, IReadOnlyList<IInstanceEvent> payloads,
        CancellationToken cancellationToken = default)
    {
        await using var c = await _data.OpenConnectionAsync(cancellationToken);
        await using var tx = await c.BeginTransactionAsync(cancellationToken);
        await using var batch = new NpgsqlBatch(c, tx);
        for (var i = 0; i < payloads.Count; i++)
            batch.BatchCommands.Add(Event(persistenceId, firstSequence + i, payloads[i]));
        await batch.ExecuteNonQueryAsync(cancellationToken);
        await tx.CommitAsync(cancellationToken);
    }

    public Task StartAsync(Conversation conversation, InstanceStarted started, CancellationToken cancellationToken = default) =>
        AppendAsync(conversation.PersistenceId, ++conversation.Sequence, started, cancellationToken);

    /// <summary>Transaction 1 of a turn, before the model call.</summary>
    public async Task BeginTurnAsync(Conversation conversation, MessageSubmitted submitted, CancellationToken cancellationToken = default)
    {
        conversation.Turns++;
        await using var c = await _data.OpenConnectionAsync(cancellationToken);
        await using var tx = await c.BeginTransactionAsync(cancellationToken);
        await using var batch = new NpgsqlBatch(c, tx);
        batch.BatchCommands.Add(Event(conversation.PersistenceId, ++conversation.Sequence, submitted));

        var task = new NpgsqlBatchCommand("""
            INSERT INTO ai_tasks (task_id, run_id, user_id, service, task_name, provider, model, request_data, created_at, seq,
                                  status, updated_at)
            VALUES ($1, $2, $3, 'prompt-actors', 'execute_message', $4, $5, $6, $7, $8, 'pending', $7)
            """);
        task.Parameters.Add(new NpgsqlParameter { Value = submitted.TaskId });
        task.Parameters.Add(new NpgsqlParameter { Value = conversation.RunId });
        task.Parameters.Add(new NpgsqlParameter { Value = EngineHost.Scope.UserId });
        task.Parameters.Add(new NpgsqlParameter { Value = submitted.Provider });
        task.Parameters.Add(new NpgsqlParameter { Value = submitted.Model });
        task.Parameters.Add(new NpgsqlParameter { Value = JsonSerializer.Serialize(new { userMessage = submitted.UserMessage }), NpgsqlDbType = NpgsqlDbType.Jsonb });
        task.Parameters.Add(new NpgsqlParameter { Value = submitted.At, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        task.Parameters.Add(new NpgsqlParameter { Value = conversation.Turns });

        var run = new NpgsqlBatchCommand("""
            INSERT INTO ai_runs (id, user_id, org_id, project_id, source_type, source_id, name, prompt_id, prompt_version,
                                 settings, variable_values, created_at, status, task_count, updated_at)
            VALUES ($1, $2, $3, $4, 'prompt', $5, 'bench', $5, 1, $6, '{}', $7, 'running', 1, $7)
            ON CONFLICT (id) DO UPDATE SET status = 'running', task_count = ai_runs.task_count + 1, updated_at = excluded.updated_at
            """);
        run.Parameters.Add(new NpgsqlParameter { Value = conversation.RunId });
        run.Parameters.Add(new NpgsqlParameter { Value = EngineHost.Scope.UserId });
        run.Parameters.Add(new NpgsqlParameter { Value = EngineHost.Scope.OrgId });
        run.Parameters.Add(new NpgsqlParameter { Value = EngineHost.Scope.ProjectId });
        run.Parameters.Add(new NpgsqlParameter { Value = EngineHost.PromptId });
        run.Parameters.Add(new NpgsqlParameter { Value = JsonSerializer.Serialize(EngineHost.Prompt.Settings, Json), NpgsqlDbType = NpgsqlDbType.Jsonb });
        run.Parameters.Add(new NpgsqlParameter { Value = submitted.At, NpgsqlDbType = NpgsqlDbType.TimestampTz });

        // ai_runs first: ai_tasks.run_id references it.
        batch.BatchCommands.Add(run);
        batch.BatchCommands.Add(task);
        await batch.ExecuteNonQueryAsync(cancellationToken);
        await tx.CommitAsync(cancellationToken);
    }

    /// <summary>Transaction 2 of a turn, after the stream ended.</summary>
    public async Task EndTurnAsync(Conversation conversation, ExecutionCompleted completed, CancellationToken cancellationToken = default,
        IReadOnlyList<LedgerRow>? toolCalls = null, IReadOnlyList<StepRow>? laterCalls = null)
    {
        await using var c = await _data.OpenConnectionAsync(cancellationToken);
        await using var tx = await c.BeginTransactionAsync(cancellationToken);
        await using var batch = new NpgsqlBatch(c, tx);
        batch.BatchCommands.Add(Event(conversation.PersistenceId, ++conversation.Sequence, completed));

        var task = new NpgsqlBatchCommand("""
            UPDATE ai_tasks SET status = 'completed', response_text = $2, tokens_input = $3, tokens_output = $4,
                   tokens_total = $5, cost = $6, time_to_first_token = $7, total_time = $8, completed_at = $9, updated_at = $9
            WHERE task_id = $1 AND status NOT IN ('completed', 'failed', 'cancelled')
            """);
        task.Parameters.Add(new NpgsqlParameter { Value = completed.TaskId });
        task.Parameters.Add(new NpgsqlParameter { Value = completed.Text });
        task.Parameters.Add(new NpgsqlParameter { Value = completed.Usage.InputTokens });
        task.Parameters.Add(new NpgsqlParameter { Value = completed.Usage.OutputTokens });
        task.Parameters.Add(new NpgsqlParameter { Value = completed.Usage.TotalTokens });
        task.Parameters.Add(new NpgsqlParameter { Value = completed.Cost, NpgsqlDbType = NpgsqlDbType.Numeric });
        task.Parameters.Add(new NpgsqlParameter { Value = (object?)completed.TimeToFirstTokenMs ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Double });
        task.Parameters.Add(new NpgsqlParameter { Value = completed.TotalTimeMs });
        task.Parameters.Add(new NpgsqlParameter { Value = completed.At, NpgsqlDbType = NpgsqlDbType.TimestampTz });

        var run = new NpgsqlBatchCommand("""
            UPDATE ai_runs SET status = 'idle', total_tokens = total_tokens + $2, total_cost = total_cost + $3,
                   message_count = message_count + 2, last_message_at = $4, updated_at = $4
            WHERE id = $1
            """);
        run.Parameters.Add(new NpgsqlParameter { Value = conversation.RunId });
        run.Parameters.Add(new NpgsqlParameter { Value = completed.Usage.TotalTokens });
        run.Parameters.Add(new NpgsqlParameter { Value = completed.Cost, NpgsqlDbType = NpgsqlDbType.Numeric });
        run.Parameters.Add(new NpgsqlParameter { Value = completed.At, NpgsqlDbType = NpgsqlDbType.TimestampTz });

        batch.BatchCommands.Add(task);
        batch.BatchCommands.Add(run);
        // A turn's later model calls: one ai_tasks row each, as the engine writes them.
        foreach (var step in laterCalls ?? [])
        {
            var row = new NpgsqlBatchCommand("""
                INSERT INTO ai_tasks (task_id, run_id, user_id, service, task_name, provider, model, request_data, created_at, seq,
                                      status, tokens_input, tokens_output, tokens_total, cost, total_time, completed_at, updated_at,
                                      step, turn_task_id)
                VALUES ($1, $2, $3, 'prompt-actors', 'execute_message', 'local', 'local', '{}', $4, $5, 'completed', $6, $7, $8, $9,
                        $10, $11, $11, $12, $13)
                """);
            foreach (var value in new object[] { completed.TaskId + "." + step.Step, conversation.RunId, EngineHost.Scope.UserId })
                row.Parameters.Add(new NpgsqlParameter { Value = value });
            row.Parameters.Add(new NpgsqlParameter { Value = step.StartedAt, NpgsqlDbType = NpgsqlDbType.TimestampTz });
            row.Parameters.Add(new NpgsqlParameter { Value = conversation.Turns });
            foreach (var value in new object[] { step.Usage.InputTokens, step.Usage.OutputTokens, step.Usage.TotalTokens })
                row.Parameters.Add(new NpgsqlParameter { Value = value });
            row.Parameters.Add(new NpgsqlParameter { Value = Cost(step.Usage), NpgsqlDbType = NpgsqlDbType.Numeric });
            row.Parameters.Add(new NpgsqlParameter { Value = (step.CompletedAt - step.StartedAt).TotalMilliseconds });
            row.Parameters.Add(new NpgsqlParameter { Value = step.CompletedAt, NpgsqlDbType = NpgsqlDbType.TimestampTz });
            row.Parameters.Add(new NpgsqlParameter { Value = step.Step });
            row.Parameters.Add(new NpgsqlParameter { Value = completed.TaskId });
            batch.BatchCommands.Add(row);
        }
        for (var i = 0; i < (toolCalls?.Count ?? 0); i++)
        {
            var row = toolCalls![i];
            var call = new NpgsqlBatchCommand("""
                INSERT INTO ai_tool_calls (task_id, call_id, ordinal, run_id, tool, arguments, status, result, step, policy,
                                           requested_at, started_at, completed_at, duration_ms)
                VALUES ($1, $2, $3, $4, $5, $6, 'completed', $7, $8, 'idempotent', $9, $9, $10, $11)
                ON CONFLICT (task_id, call_id) DO NOTHING
                """);
            foreach (var value in new object[] { completed.TaskId, row.CallId, i, conversation.RunId, row.Tool, row.Arguments, row.Result, row.Step })
                call.Parameters.Add(new NpgsqlParameter { Value = value });
            call.Parameters.Add(new NpgsqlParameter { Value = row.StartedAt, NpgsqlDbType = NpgsqlDbType.TimestampTz });
            call.Parameters.Add(new NpgsqlParameter { Value = row.CompletedAt, NpgsqlDbType = NpgsqlDbType.TimestampTz });
            call.Parameters.Add(new NpgsqlParameter { Value = (row.CompletedAt - row.StartedAt).TotalMilliseconds });
            batch.BatchCommands.Add(call);
        }
        await batch.ExecuteNonQueryAsync(cancellationToken);
        await tx.CommitAsync(cancellationToken);
    }

    /// <summary>One later model call of a hand-written tool turn (its own ai_tasks row).</summary>
    public sealed record StepRow(int Step, TokenUsage Usage, DateTimeOffset StartedAt, DateTimeOffset CompletedAt);

    /// <summary>One ai_tool_calls row of a hand-written tool turn.</summary>
    public sealed record LedgerRow(string CallId, string Tool, string Arguments, string Result, int Step, DateTimeOffset StartedAt,
        DateTimeOffset CompletedAt);

    /// <summary>Cost of a reply at the benchmark model's prices (as the engine computes it).</summary>
    public static decimal Cost(TokenUsage usage) => CostCalculator.Compute(usage, new ModelPricing(0.15m, 0.6m));

    public ValueTask DisposeAsync() => _data.DisposeAsync();
}
