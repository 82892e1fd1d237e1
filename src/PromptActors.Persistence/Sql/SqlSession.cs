using System.Data.Common;

namespace PromptActors.Persistence.Sql;

/// <summary>One open connection (and optionally one write transaction) with a small fluent way to run statements.</summary>
internal sealed class SqlSession : IAsyncDisposable
{
    private readonly DbConnection _connection;
    private DbTransaction? _transaction;

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
            session._transaction = await dialect.BeginWriteAsync(session._connection, cancellationToken);
            return session;
        }
        catch
        {
            await session.DisposeAsync();
            throw;
        }
    }

    public SqlStatement Sql(string text)
    {
        var command = _connection.CreateCommand();
        command.CommandText = text;
        command.Transaction = _transaction;
        return new SqlStatement(Dialect, command);
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
        await _connection.DisposeAsync();
    }
}

/// <summary>A command being built: typed parameters, then one execution (which disposes it).</summary>
internal sealed class SqlStatement(SqlDialect dialect, DbCommand command)
{
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

    public async Task<int> ExecuteAsync(CancellationToken cancellationToken)
    {
        await using (command)
            return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<object?> ScalarAsync(CancellationToken cancellationToken)
    {
        await using (command)
        {
            var value = await command.ExecuteScalarAsync(cancellationToken);
            return value is DBNull ? null : value;
        }
    }

    public async Task<List<T>> QueryAsync<T>(Func<DbDataReader, T> map, CancellationToken cancellationToken)
    {
        await using (command)
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            var rows = new List<T>();
            while (await reader.ReadAsync(cancellationToken))
                rows.Add(map(reader));
            return rows;
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
