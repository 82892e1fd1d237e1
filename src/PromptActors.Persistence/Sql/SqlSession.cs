using System.Data.Common;

namespace PromptActors.Persistence.Sql;

/// <summary>
/// One open connection (and optionally one write transaction) with a small fluent way to run statements. When the session's
/// first statement finds its pooled connection dead (PostgreSQL restarted since it was pooled), the session takes a new
/// connection (and a new transaction) and runs it once more: nothing of the session had happened yet.
/// </summary>
internal sealed class SqlSession : IAsyncDisposable
{
    private DbConnection _connection;
    private DbTransaction? _transaction;
    private bool _ran; // a statement of this session reached the database

    private SqlSession(SqlDialect dialect, DbConnection connection)
    {
        Dialect = dialect;
        _connection = connection;
    }

    public SqlDialect Dialect { get; }

    public static async Task<SqlSession> OpenAsync(SqlDialect dialect, CancellationToken cancellationToken) =>
        new(dialect, await dialect.OpenAsync(cancellationToken));

    /// <summary>Opens a session inside a write transaction.</summary>
    public static async Task<SqlSession> BeginWriteAsync(SqlDialect dialect, CancellationToken cancellationToken)
    {
        var session = await OpenAsync(dialect, cancellationToken);
        try
        {
            try
            {
                session._transaction = await dialect.BeginWriteAsync(session._connection, cancellationToken);
            }
            catch (Exception ex) when (dialect.IsBroken(session._connection, ex))
            {
                await dialect.CloseAsync(session._connection);
                session._connection = await dialect.OpenAsync(cancellationToken);
                session._transaction = await dialect.BeginWriteAsync(session._connection, cancellationToken);
            }
            return session;
        }
        catch
        {
            await session.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Waits until no other write transaction holds <paramref name="key"/> of <paramref name="kind"/>, and holds it until
    /// this transaction ends. A no-op where write transactions take turns anyway (SQLite).
    /// </summary>
    public async Task TakeTurnsAsync(WriterTurns kind, string key, CancellationToken cancellationToken)
    {
        if (_transaction is null)
            throw new InvalidOperationException("Taking turns needs a write transaction.");
        if (Dialect.TakeTurnsSql(kind) is { } sql)
            await Sql(sql).Text("lock_key", key).ExecuteAsync(cancellationToken);
    }

    public SqlStatement Sql(string text)
    {
        var command = _connection.CreateCommand();
        command.CommandText = text;
        command.Transaction = _transaction;
        return new SqlStatement(this, command);
    }

    /// <summary>Runs <paramref name="run"/>; the session's first statement is run again on a new connection when its own was dead.</summary>
    internal async Task<T> RunAsync<T>(DbCommand command, Func<DbCommand, Task<T>> run, CancellationToken cancellationToken)
    {
        if (_ran)
            return await run(command);
        try
        {
            var result = await run(command);
            _ran = true;
            return result;
        }
        catch (Exception ex) when (!_ran && Dialect.IsBroken(_connection, ex))
        {
            _ran = true;
            await ReconnectAsync(cancellationToken);
            command.Connection = _connection;
            command.Transaction = _transaction;
            return await run(command);
        }
    }

    private async Task ReconnectAsync(CancellationToken cancellationToken)
    {
        var hadTransaction = _transaction is not null;
        if (_transaction is not null)
            await _transaction.DisposeAsync();
        _transaction = null;
        await Dialect.CloseAsync(_connection); // a broken connection empties the pool: its neighbours are as dead
        _connection = await Dialect.OpenAsync(cancellationToken);
        if (hadTransaction)
            _transaction = await Dialect.BeginWriteAsync(_connection, cancellationToken);
    }

    /// <summary>
    /// Runs the statements in one round trip (<see cref="DbBatch"/>). Without a transaction of the session's own they
    /// form one implicit transaction: all of them happen, or none.
    /// </summary>
    public async Task ExecuteBatchAsync(IReadOnlyList<SqlBatchStatement> statements, CancellationToken cancellationToken)
    {
        if (_ran)
        {
            await RunBatchAsync(statements, cancellationToken);
            return;
        }
        try
        {
            await RunBatchAsync(statements, cancellationToken);
            _ran = true;
        }
        catch (Exception ex) when (!_ran && Dialect.IsBroken(_connection, ex))
        {
            _ran = true;
            await ReconnectAsync(cancellationToken);
            await RunBatchAsync(statements, cancellationToken);
        }
    }

    private async Task RunBatchAsync(IReadOnlyList<SqlBatchStatement> statements, CancellationToken cancellationToken)
    {
        await using var batch = _connection.CreateBatch();
        batch.Transaction = _transaction;
        foreach (var statement in statements)
        {
            var command = batch.CreateBatchCommand();
            if (Dialect.UsesPositionalParameters)
            {
                // $1, $2, … in the text (rewritten once per statement text), unnamed parameters in that order: the driver
                // then sends the text as it is instead of parsing and rewriting it on every execution.
                var positional = PositionalSql.For(statement.Text);
                command.CommandText = positional.Text;
                foreach (var name in positional.Names)
                {
                    var (_, value, type) = statement.Parameter(name);
                    var parameter = command.CreateParameter();
                    Dialect.Bind(parameter, value, type);
                    command.Parameters.Add(parameter);
                }
            }
            else
            {
                command.CommandText = statement.Text;
                foreach (var (name, value, type) in statement.Parameters)
                {
                    var parameter = command.CreateParameter();
                    parameter.ParameterName = name;
                    Dialect.Bind(parameter, value, type);
                    command.Parameters.Add(parameter);
                }
            }
            batch.BatchCommands.Add(command);
        }
        await batch.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task CommitAsync(CancellationToken cancellationToken)
    {
        if (_transaction is null)
            throw new InvalidOperationException("No transaction to commit.");
        await _transaction.CommitAsync(cancellationToken);
        await _transaction.DisposeAsync();
        _transaction = null;
    }

    public async ValueTask DisposeAsync()
    {
        // An uncommitted transaction rolls back when disposed.
        if (_transaction is not null)
            await _transaction.DisposeAsync();
        await Dialect.CloseAsync(_connection);
    }
}

/// <summary>Something typed parameters are bound to (a command, or a statement of a batch).</summary>
internal interface ISqlBinder
{
    void Bind(string name, object? value, SqlType type);
}

internal static class SqlBinderExtensions
{
    public static ISqlBinder Text(this ISqlBinder b, string name, string? value) => b.With(name, value, SqlType.Text);
    public static ISqlBinder Int32(this ISqlBinder b, string name, int? value) => b.With(name, value, SqlType.Int32);
    public static ISqlBinder Int64(this ISqlBinder b, string name, long? value) => b.With(name, value, SqlType.Int64);
    public static ISqlBinder Double(this ISqlBinder b, string name, double? value) => b.With(name, value, SqlType.Double);
    public static ISqlBinder Json(this ISqlBinder b, string name, string? value) => b.With(name, value, SqlType.Json);
    public static ISqlBinder Timestamp(this ISqlBinder b, string name, DateTimeOffset? value) => b.With(name, value, SqlType.Timestamp);
    public static ISqlBinder Money(this ISqlBinder b, string name, decimal? value) => b.With(name, value, SqlType.Money);

    private static ISqlBinder With(this ISqlBinder b, string name, object? value, SqlType type)
    {
        b.Bind(name, value, type);
        return b;
    }
}

/// <summary>One statement of a batch: its text and typed parameters.</summary>
internal sealed class SqlBatchStatement(string text) : ISqlBinder
{
    public string Text { get; } = text;
    public List<(string Name, object? Value, SqlType Type)> Parameters { get; } = new();

    public void Bind(string name, object? value, SqlType type) => Parameters.Add((name, value, type));

    /// <summary>The parameter bound as <paramref name="name"/> (the text names it).</summary>
    public (string Name, object? Value, SqlType Type) Parameter(string name)
    {
        foreach (var p in Parameters)
            if (string.Equals(p.Name, name, StringComparison.Ordinal))
                return p;
        throw new InvalidOperationException($"the statement uses @{name}, which is not bound");
    }
}

/// <summary>A command being built: typed parameters, then one execution (which disposes it).</summary>
internal sealed class SqlStatement(SqlSession session, DbCommand command) : ISqlBinder
{
    private readonly SqlDialect dialect = session.Dialect;

    void ISqlBinder.Bind(string name, object? value, SqlType type) => With(name, value, type);

    public SqlStatement With(string name, object? value, SqlType type)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        dialect.Bind(parameter, value, type);
        command.Parameters.Add(parameter);
        return this;
    }

    public SqlStatement Text(string name, string? value) => With(name, value, SqlType.Text);
    public SqlStatement Int32(string name, int? value) => With(name, value, SqlType.Int32);
    public SqlStatement Int64(string name, long? value) => With(name, value, SqlType.Int64);
    public SqlStatement Double(string name, double? value) => With(name, value, SqlType.Double);
    public SqlStatement Json(string name, string? value) => With(name, value, SqlType.Json);
    public SqlStatement Timestamp(string name, DateTimeOffset? value) => With(name, value, SqlType.Timestamp);
    public SqlStatement Money(string name, decimal? value) => With(name, value, SqlType.Money);
    public SqlStatement Bytes(string name, byte[]? value) => With(name, value, SqlType.Bytes);

    public async Task<int> ExecuteAsync(CancellationToken cancellationToken)
    {
        await using (command)
            return await session.RunAsync(command, c => c.ExecuteNonQueryAsync(cancellationToken), cancellationToken);
    }

    public async Task<object?> ScalarAsync(CancellationToken cancellationToken)
    {
        await using (command)
        {
            var value = await session.RunAsync(command, c => c.ExecuteScalarAsync(cancellationToken), cancellationToken);
            return value is DBNull ? null : value;
        }
    }

    public async Task<List<T>> QueryAsync<T>(Func<DbDataReader, T> map, CancellationToken cancellationToken)
    {
        await using (command)
        {
            return await session.RunAsync(command, async c =>
            {
                await using var reader = await c.ExecuteReaderAsync(cancellationToken);
                var rows = new List<T>();
                while (await reader.ReadAsync(cancellationToken))
                    rows.Add(map(reader));
                return rows;
            }, cancellationToken);
        }
    }
}

internal static class DataReaderExtensions
{
    public static string? GetStringOrNull(this DbDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    public static double? GetDoubleOrNull(this DbDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : reader.GetDouble(ordinal);
}
