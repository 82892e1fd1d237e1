using System.Data;
using Akka.Actor;
using Akka.Configuration;
using Akka.Pattern;
using Akka.Persistence;
using Npgsql;

namespace PromptActors.Persistence.Journal;

/// <summary>What the PostgreSQL journal and snapshot store (and the SQLite snapshot store's fix) share.</summary>
internal static class PluginSupport
{
    /// <summary>
    /// The plugin section's <c>connection-string</c> as a data source. The plugins run a few fixed statements, so they are
    /// prepared once per pooled connection (saving their parse and plan) unless the connection string says otherwise.
    /// </summary>
    public static NpgsqlDataSource DataSource(Config config, string section)
    {
        var connectionString = config.GetString("connection-string");
        if (string.IsNullOrWhiteSpace(connectionString))
            throw new ConfigurationException($"{section}.connection-string is empty");
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        if (!connectionString.Contains("Auto Prepare", StringComparison.OrdinalIgnoreCase)
            && !connectionString.Contains("AutoPrepare", StringComparison.OrdinalIgnoreCase))
            builder.MaxAutoPrepare = 8;
        return NpgsqlDataSource.Create(builder.ConnectionString);
    }

    /// <summary>
    /// Runs <paramref name="work"/> on a connection of <paramref name="dataSource"/>. When that connection turns out broken
    /// (most often: PostgreSQL restarted since it was pooled, which leaves every idle connection of the pool dead), the pool
    /// is emptied and the work runs once more on a new connection, so a server restart costs no write or recovery a
    /// failure (a failed journal write stops the instance). Only when the connection broke and <paramref name="mayRetry"/>
    /// agrees (a replay that has handed out no event yet). A write whose connection broke in flight may have been committed;
    /// its second try then fails on the duplicate key and is reported as failed, as an outcome that is not known must be.
    /// </summary>
    public static async Task<T> OnConnectionAsync<T>(NpgsqlDataSource dataSource, Func<NpgsqlConnection, Task<T>> work,
        CancellationToken cancellationToken, Func<bool>? mayRetry = null)
    {
        for (var attempt = 0; ; attempt++)
        {
            var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                return await work(connection).ConfigureAwait(false);
            }
            catch (Exception ex) when (attempt == 0 && IsBroken(connection, ex) && (mayRetry?.Invoke() ?? true))
            {
                dataSource.Clear();
            }
            finally
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <inheritdoc cref="OnConnectionAsync{T}"/>
    public static Task OnConnectionAsync(NpgsqlDataSource dataSource, Func<NpgsqlConnection, Task> work,
        CancellationToken cancellationToken, Func<bool>? mayRetry = null) =>
        OnConnectionAsync(dataSource, async connection =>
        {
            await work(connection).ConfigureAwait(false);
            return true;
        }, cancellationToken, mayRetry);

    /// <summary>True when <paramref name="ex"/> came from a connection that can no longer be used (not from the statement).</summary>
    public static bool IsBroken(NpgsqlConnection connection, Exception ex) =>
        ex is NpgsqlException && ex is not OperationCanceledException
        && (connection.FullState.HasFlag(ConnectionState.Broken) || connection.State == ConnectionState.Closed);

    /// <summary>
    /// While a snapshot store's circuit breaker is open, Akka 1.5's breaker throws out of the store's message handler
    /// instead of failing the call's task, so a recovering actor's <see cref="LoadSnapshot"/> would never be answered:
    /// runs <paramref name="receive"/> and tells such a load's sender at once instead.
    /// </summary>
    public static bool FailFastLoad(Func<bool> receive, object message, IActorRef sender)
    {
        try
        {
            return receive();
        }
        catch (OpenCircuitException open) when (message is LoadSnapshot)
        {
            sender.Tell(new LoadSnapshotFailed(open));
            return true;
        }
    }
}
