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
