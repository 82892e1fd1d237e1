using Akka.Actor;
using Akka.Configuration;
using Akka.Pattern;
using Akka.Persistence;
using Akka.Persistence.Snapshot;
using Npgsql;
using NpgsqlTypes;

namespace PromptActors.Persistence.Journal;

/// <summary>
/// Snapshots on PostgreSQL, written with Npgsql directly over Akka.Persistence.Sql's <c>snapshot</c> table and row format
/// (the payload serialized by Akka's serializer for its type, with its id and manifest; <c>created</c> in ticks), so rows
/// either writes are read by both. A load is one statement (the plugin: BEGIN, SELECT, COMMIT and a linq2db query build),
/// which is most of what a recovery costs besides the events (see <see cref="PostgresJournal"/>).
/// <para>
/// Like <see cref="FailFastSqlSnapshotStore"/>: while the circuit breaker is open (a database outage), Akka 1.5's breaker
/// throws out of the store's message handler instead of failing the call's task, so a recovering instance's
/// <see cref="LoadSnapshot"/> would never be answered; here it is told at once.
/// </para>
/// </summary>
public sealed class PostgresSnapshotStore : SnapshotStore
{
    private const string Columns = "persistence_id, sequence_number, created, snapshot, manifest, serializer_id";

    private const string LoadSql = $"""
        SELECT {Columns} FROM snapshot
        WHERE persistence_id = @p AND sequence_number <= @max_seq AND sequence_number >= @min_seq
          AND created <= @max_ts AND created >= @min_ts
        ORDER BY sequence_number DESC LIMIT 1
        """;

    private const string SaveSql = $"""
        INSERT INTO snapshot ({Columns}) VALUES (@p, @s, @c, @b, @f, @i)
        ON CONFLICT (persistence_id, sequence_number)
        DO UPDATE SET created = EXCLUDED.created, snapshot = EXCLUDED.snapshot, manifest = EXCLUDED.manifest,
                      serializer_id = EXCLUDED.serializer_id
        """;

    private const string DeleteOneSql = "DELETE FROM snapshot WHERE persistence_id = @p AND sequence_number = @s";

    private const string DeleteManySql = """
        DELETE FROM snapshot
        WHERE persistence_id = @p AND sequence_number <= @max_seq AND sequence_number >= @min_seq
          AND created <= @max_ts AND created >= @min_ts
        """;

    private readonly NpgsqlDataSource _dataSource;
    private readonly Akka.Serialization.Serialization _serialization;
    private readonly RecoveryPrefetch _recoveries;

    public PostgresSnapshotStore(Config config)
    {
        _dataSource = PluginSupport.DataSource(config, "akka.persistence.snapshot-store.sql");
        _serialization = Context.System.Serialization;
        _recoveries = RecoveryPrefetch.For(Context.System);
    }

    protected override bool AroundReceive(Receive receive, object message) =>
        PluginSupport.FailFastLoad(() => base.AroundReceive(receive, message), message, Sender);

    protected override Task<SelectedSnapshot?> LoadAsync(string persistenceId, SnapshotSelectionCriteria criteria,
        CancellationToken cancellationToken) =>
        PluginSupport.OnConnectionAsync(_dataSource, connection => LoadAsync(connection, persistenceId, criteria, cancellationToken),
            cancellationToken);

    /// <summary>
    /// The snapshot, and in the same round trip what the journal is asked next in a recovery (the highest sequence number
    /// and the events after the snapshot), left for it in <see cref="RecoveryPrefetch"/>.
    /// </summary>
    private async Task<SelectedSnapshot?> LoadAsync(NpgsqlConnection connection, string persistenceId, SnapshotSelectionCriteria criteria,
        CancellationToken cancellationToken)
    {
        await using var batch = new NpgsqlBatch(connection);
        foreach (var sql in new[] { LoadSql, RecoveryPrefetch.HighestSql, RecoveryPrefetch.EventsSql })
        {
            var statement = new NpgsqlBatchCommand(sql);
            if (sql == RecoveryPrefetch.HighestSql)
                statement.Parameters.Add(new NpgsqlParameter<string>("p", NpgsqlDbType.Text) { TypedValue = persistenceId });
            else
                Bind(statement.Parameters, persistenceId, criteria);
            batch.BatchCommands.Add(statement);
        }
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        SelectedSnapshot? selected = null;
        if (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var metadata = new SnapshotMetadata(reader.GetString(0), reader.GetInt64(1), new DateTime(reader.GetInt64(2), DateTimeKind.Utc));
            var manifest = reader.IsDBNull(4) ? "" : reader.GetString(4);
            if (reader.IsDBNull(5))
                throw new InvalidOperationException($"snapshot {persistenceId}/{metadata.SequenceNr} has no serializer id");
            var payload = _serialization.Deserialize((byte[])reader.GetValue(3), reader.GetInt32(5), manifest);
            selected = new SelectedSnapshot(metadata, payload);
        }
        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        var highest = reader.GetInt64(0);
        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        var rows = new List<StoredEvent>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            rows.Add(StoredEvent.Read(reader));
        var from = (selected?.Metadata.SequenceNr ?? 0) + 1;
        _recoveries.Put(persistenceId, new RecoveryPrefetch.Entry(from, highest, rows, rows.Count <= RecoveryPrefetch.MaxRows));
        return selected;
    }

    protected override async Task SaveAsync(SnapshotMetadata metadata, object snapshot, CancellationToken cancellationToken)
    {
        var serializer = _serialization.FindSerializerFor(snapshot);
        var manifest = Akka.Serialization.Serialization.ManifestFor(serializer, snapshot);
        var bytes = serializer.ToBinary(snapshot);
        await PluginSupport.OnConnectionAsync(_dataSource, async connection =>
        {
            await using var command = new NpgsqlCommand(SaveSql, connection);
            command.Parameters.Add(new NpgsqlParameter<string>("p", NpgsqlDbType.Text) { TypedValue = metadata.PersistenceId });
            command.Parameters.Add(new NpgsqlParameter<long>("s", NpgsqlDbType.Bigint) { TypedValue = metadata.SequenceNr });
            command.Parameters.Add(new NpgsqlParameter<long>("c", NpgsqlDbType.Bigint) { TypedValue = metadata.Timestamp.Ticks });
            command.Parameters.Add(new NpgsqlParameter<byte[]>("b", NpgsqlDbType.Bytea) { TypedValue = bytes });
            command.Parameters.Add(new NpgsqlParameter<string>("f", NpgsqlDbType.Text) { TypedValue = manifest });
            command.Parameters.Add(new NpgsqlParameter<int>("i", NpgsqlDbType.Integer) { TypedValue = serializer.Identifier });
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }, cancellationToken);
    }

    protected override Task DeleteAsync(SnapshotMetadata metadata, CancellationToken cancellationToken) =>
        PluginSupport.OnConnectionAsync(_dataSource, async connection =>
        {
            await using var command = new NpgsqlCommand(DeleteOneSql, connection);
            command.Parameters.Add(new NpgsqlParameter<string>("p", NpgsqlDbType.Text) { TypedValue = metadata.PersistenceId });
            command.Parameters.Add(new NpgsqlParameter<long>("s", NpgsqlDbType.Bigint) { TypedValue = metadata.SequenceNr });
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }, cancellationToken);

    protected override Task DeleteAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken) =>
        PluginSupport.OnConnectionAsync(_dataSource, async connection =>
        {
            await using var command = new NpgsqlCommand(DeleteManySql, connection);
            Bind(command.Parameters, persistenceId, criteria);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }, cancellationToken);

    private static void Bind(NpgsqlParameterCollection parameters, string persistenceId, SnapshotSelectionCriteria criteria)
    {
        parameters.Add(new NpgsqlParameter<string>("p", NpgsqlDbType.Text) { TypedValue = persistenceId });
        parameters.Add(new NpgsqlParameter<long>("max_seq", NpgsqlDbType.Bigint) { TypedValue = criteria.MaxSequenceNr });
        parameters.Add(new NpgsqlParameter<long>("min_seq", NpgsqlDbType.Bigint) { TypedValue = criteria.MinSequenceNr });
        parameters.Add(new NpgsqlParameter<long>("max_ts", NpgsqlDbType.Bigint) { TypedValue = criteria.MaxTimeStamp.Ticks });
        parameters.Add(new NpgsqlParameter<long>("min_ts", NpgsqlDbType.Bigint) { TypedValue = (criteria.MinTimestamp ?? DateTime.MinValue).Ticks });
    }

    protected override void PostStop()
    {
        _dataSource.Dispose();
        base.PostStop();
    }
}
