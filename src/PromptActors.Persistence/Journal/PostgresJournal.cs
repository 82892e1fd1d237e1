using System.Collections.Immutable;
using PromptActors.Persistence.Sql;
using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using Akka.Persistence.Journal;
using Npgsql;
using NpgsqlTypes;

namespace PromptActors.Persistence.Journal;

/// <summary>
/// The event journal on PostgreSQL, written with Npgsql directly: the same <c>journal</c> table and row format as
/// Akka.Persistence.Sql (migration 005; the payload serialized by Akka's serializer for its type, with that serializer's
/// id and manifest), so rows either writes are read by both, and its read journal and snapshot store keep working.
/// <para>
/// Why not the plugin itself: a lone event cost it a linq2db query build (a mapping schema, visitors, about 50 KiB of
/// garbage), an explicit transaction (BEGIN and COMMIT) and an Akka.Streams stage per write, and a recovery cost nine
/// statements. Here the writes of every instance on the node queue in one channel; each writer takes all that waited
/// (up to <see cref="MaxBatch"/> rows) and inserts them with one prepared statement, in one round trip that PostgreSQL
/// runs as one implicit transaction. When such a batch fails, its writes are tried again one by one, so one bad write
/// (a second writer's duplicate sequence number) fails alone. A recovery is one round trip: the highest sequence number
/// and the events (see <see cref="ReadHighestSequenceNrAsync"/>).
/// </para>
/// <para>Configured as the <c>class</c> of <c>akka.persistence.journal.sql</c> (hocon/persistence-postgres.hocon), so its
/// circuit breaker, replay filter and recovery timeout settings stay where they were. Tagged events are refused: the engine
/// does not tag, and the tags table would need the rows' ordering values back.</para>
/// </summary>
public sealed class PostgresJournal : AsyncWriteJournal
{
    private const int MaxBatch = 512;
    private const int PrefetchRows = RecoveryPrefetch.MaxRows;
    private const int MaxPrefetched = 4096;

    private const string InsertSql = """
        INSERT INTO journal (created, deleted, persistence_id, sequence_number, message, manifest, identifier, writer_uuid)
        SELECT c, false, p, s, m, f, i, w FROM unnest(@c, @p, @s, @m, @f, @i, @w) AS r(c, p, s, m, f, i, w)
        """;

    private const string HighestSql = RecoveryPrefetch.HighestSql;

    private const string ReplaySql = $"""
        SELECT {StoredEvent.Columns} FROM journal
        WHERE persistence_id = @p AND sequence_number >= @from AND sequence_number <= @to AND NOT deleted
        ORDER BY sequence_number LIMIT @max
        """;

    // Akka.Persistence.Sql's deletion, in one implicit transaction: mark, then remove all but the highest marked row, which
    // keeps the highest sequence number readable after every event is deleted.
    private const string MarkDeletedSql = "UPDATE journal SET deleted = true WHERE persistence_id = @p AND sequence_number <= @to";
    private const string RemoveDeletedSql = """
        DELETE FROM journal WHERE persistence_id = @p AND sequence_number <= @to
          AND sequence_number < (SELECT MAX(sequence_number) FROM journal WHERE persistence_id = @p AND deleted)
        """;

    private readonly NpgsqlDataSource _dataSource;
    private readonly Akka.Serialization.Serialization _serialization;
    private readonly WriteBatcher<List<Row>> _writes;
    private readonly RecoveryPrefetch _recoveries;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Prefetched> _prefetched = new(StringComparer.Ordinal);
    // One writer id per journal (per node process), as Akka.Persistence.Sql stamps its rows: the two read alike.
    private readonly string _writerUuid = Guid.NewGuid().ToString();
    private readonly Akka.Pattern.CircuitBreaker _writeBreaker;

    /// <summary>One event, serialized.</summary>
    private sealed record Row(long Created, string PersistenceId, long SequenceNr, byte[] Message, string Manifest, int Identifier,
        string WriterUuid);

    public PostgresJournal(Config config)
    {
        _dataSource = PluginSupport.DataSource(config, "akka.persistence.journal.sql");
        _serialization = Context.System.Serialization;
        _recoveries = RecoveryPrefetch.For(Context.System);
        var parallelism = Math.Max(1, config.GetInt("parallelism", 2));
        // Each queued item is the rows of one WriteMessagesAsync call, written together or not at all.
        _writes = new WriteBatcher<List<Row>>(batch => InsertAsync(batch.SelectMany(rows => rows).ToList()), static rows => rows.Count,
            MaxBatch, parallelism);
        // The writes' breaker, with the plugin's settings (AsyncWriteJournal keeps its own for replays and deletions).
        _writeBreaker = new Akka.Pattern.CircuitBreaker(Context.System.Scheduler, config.GetInt("circuit-breaker.max-failures", 10),
            config.GetTimeSpan("circuit-breaker.call-timeout", TimeSpan.FromSeconds(10)),
            config.GetTimeSpan("circuit-breaker.reset-timeout", TimeSpan.FromSeconds(30)));
    }

    /// <summary>
    /// Writes are answered here rather than by <see cref="AsyncWriteJournal"/>, which sends every reply through its
    /// resequencer actor: one mailbox hop, a thread woken, on each event's way back to its actor (the first token of a turn
    /// waits for one). The replies of a write go to its actor from the thread that finished it, in order, and
    /// <see cref="WriteMessagesSuccessful"/> (or <see cref="WriteMessagesFailed"/>) last: an actor sends its next write
    /// only after that reply, so no reply of a later write can overtake one of an earlier write, which is the order the
    /// resequencer kept. Replays and deletions stay with the base class.
    /// </summary>
    protected override bool AroundReceive(Receive receive, object message)
    {
        if (message is not WriteMessages write)
            return base.AroundReceive(receive, message);
        HandleWrite(write);
        return true;
    }

    private void HandleWrite(WriteMessages write)
    {
        var atomicWrites = write.Messages.OfType<AtomicWrite>().Count();
        var self = Self;
        Task<IImmutableList<Exception?>> result;
        try
        {
            var prepared = PreparePersistentBatch(write.Messages).ToArray();
            result = _writeBreaker.WithCircuitBreaker(token => WriteMessagesAsync(prepared, token));
        }
        catch (Exception ex)
        {
            // An event adapter failed: every write of the batch is rejected, as AsyncWriteJournal does.
            result = Task.FromResult<IImmutableList<Exception?>>(Enumerable.Repeat<Exception?>(ex, atomicWrites).ToImmutableList());
        }
        if (result.IsCompleted)
            Answer(write, atomicWrites, result, self);
        else
            result.ContinueWith(t => Answer(write, atomicWrites, t, self), CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>Tells the writing actor how its write went (on the thread that finished it: no actor state is read).</summary>
    private void Answer(WriteMessages write, int atomicWrites, Task<IImmutableList<Exception?>> result, IActorRef self)
    {
        var failure = result.IsFaulted ? TryUnwrapException(result.Exception!)
            : result.IsCanceled ? new OperationCanceledException("WriteMessagesAsync canceled, possibly due to timing out.")
            : null;
        var rejections = failure is null ? result.Result : null;
        if (rejections is not null && rejections.Count != atomicWrites)
            failure = new InvalidOperationException($"WriteMessagesAsync returned {rejections.Count} results for {atomicWrites} writes");
        var actor = write.PersistentActor;
        var instance = write.ActorInstanceId;
        var i = 0;
        foreach (var envelope in write.Messages)
        {
            if (envelope is not AtomicWrite atomic)
            {
                actor.Tell(new LoopMessageSuccess(envelope.Payload, instance), envelope.Sender);
                continue;
            }
            var rejected = failure is null ? rejections?[i] : null;
            i++;
            foreach (var p in (IEnumerable<IPersistentRepresentation>)atomic.Payload)
            {
                object reply = failure is not null ? new WriteMessageFailure(p, failure, instance)
                    : rejected is not null ? new WriteMessageRejected(p, rejected, instance)
                    : new WriteMessageSuccess(p, instance);
                actor.Tell(reply, p.Sender);
            }
        }
        actor.Tell(failure is null ? WriteMessagesSuccessful.Instance : new WriteMessagesFailed(failure, atomicWrites), self);
    }

    protected override async Task<IImmutableList<Exception?>> WriteMessagesAsync(IEnumerable<AtomicWrite> messages,
        CancellationToken cancellationToken)
    {
        var writes = messages.ToList();
        var rejections = new Exception?[writes.Count];
        var rows = new List<Row>();
        var created = DateTime.UtcNow.Ticks;
        for (var i = 0; i < writes.Count; i++)
        {
            var first = rows.Count;
            try
            {
                foreach (var repr in (IImmutableList<IPersistentRepresentation>)writes[i].Payload)
                    rows.Add(Serialize(repr, created));
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                rows.RemoveRange(first, rows.Count - first);
                rejections[i] = ex; // this write is rejected (the actor is told); the others go on
            }
        }
        if (rows.Count > 0)
            await _writes.WriteAsync(rows).ConfigureAwait(false);
        return rejections.Any(r => r is not null) ? rejections.ToImmutableList() : null!;
    }

    private Row Serialize(IPersistentRepresentation repr, long created)
    {
        if (repr.Payload is Tagged)
            throw new NotSupportedException("PromptActors' PostgreSQL journal does not store tagged events");
        var payload = repr.Payload;
        var serializer = _serialization.FindSerializerFor(payload);
        var manifest = Akka.Serialization.Serialization.ManifestFor(serializer, payload);
        return new Row(repr.Timestamp > 0 ? repr.Timestamp : created, repr.PersistenceId, repr.SequenceNr, serializer.ToBinary(payload),
            manifest, serializer.Identifier, _writerUuid);
    }

    private Task InsertAsync(List<Row> rows) => PluginSupport.OnConnectionAsync(_dataSource, async connection =>
        {
            await using var command = new NpgsqlCommand(InsertSql, connection);
            command.Parameters.Add(new NpgsqlParameter<long[]>("c", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { TypedValue = rows.Select(r => r.Created).ToArray() });
            command.Parameters.Add(new NpgsqlParameter<string[]>("p", NpgsqlDbType.Array | NpgsqlDbType.Text) { TypedValue = rows.Select(r => r.PersistenceId).ToArray() });
            command.Parameters.Add(new NpgsqlParameter<long[]>("s", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { TypedValue = rows.Select(r => r.SequenceNr).ToArray() });
            command.Parameters.Add(new NpgsqlParameter<byte[][]>("m", NpgsqlDbType.Array | NpgsqlDbType.Bytea) { TypedValue = rows.Select(r => r.Message).ToArray() });
            command.Parameters.Add(new NpgsqlParameter<string[]>("f", NpgsqlDbType.Array | NpgsqlDbType.Text) { TypedValue = rows.Select(r => r.Manifest).ToArray() });
            command.Parameters.Add(new NpgsqlParameter<int[]>("i", NpgsqlDbType.Array | NpgsqlDbType.Integer) { TypedValue = rows.Select(r => r.Identifier).ToArray() });
            command.Parameters.Add(new NpgsqlParameter<string[]>("w", NpgsqlDbType.Array | NpgsqlDbType.Text) { TypedValue = rows.Select(r => r.WriterUuid).ToArray() });
            await command.ExecuteNonQueryAsync().ConfigureAwait(false);
        }, CancellationToken.None);

    /// <summary>
    /// The highest sequence number, and in the same round trip the events after <paramref name="fromSequenceNr"/> (up to
    /// <see cref="PrefetchRows"/>): Akka's recovery asks for the highest number and then, at once, for exactly those
    /// events, so the replay that follows is answered from what this read brought along (one round trip less per
    /// recovery). A longer journal is read by the replay itself.
    /// </summary>
    public override Task<long> ReadHighestSequenceNrAsync(string persistenceId, long fromSequenceNr, CancellationToken cancellationToken)
    {
        // The snapshot store's load read this already (when it is ours, on this database): no round trip.
        if (_recoveries.TryTake(persistenceId, out var read) && read.From == fromSequenceNr + 1)
        {
            if (read.Complete && read.Rows.Count > 0)
                Prefetch(persistenceId, new Prefetched(read.From, read.Rows));
            else
                _prefetched.TryRemove(persistenceId, out _);
            return Task.FromResult(read.Highest);
        }
        return PluginSupport.OnConnectionAsync(_dataSource, connection => ReadHighestAsync(connection, persistenceId, fromSequenceNr, cancellationToken),
            cancellationToken);
    }

    private void Prefetch(string persistenceId, Prefetched rows)
    {
        if (_prefetched.Count >= MaxPrefetched)
            _prefetched.Clear(); // replays that never came (a recovery that stopped in between): forget them
        _prefetched[persistenceId] = rows;
    }

    private async Task<long> ReadHighestAsync(NpgsqlConnection connection, string persistenceId, long fromSequenceNr,
        CancellationToken cancellationToken)
    {
        await using var batch = new NpgsqlBatch(connection);
        var highest = new NpgsqlBatchCommand(HighestSql);
        highest.Parameters.Add(new NpgsqlParameter<string>("p", NpgsqlDbType.Text) { TypedValue = persistenceId });
        batch.BatchCommands.Add(highest);
        // Akka asks for the highest number from one before the replay's first event (AsyncWriteJournal: FromSequenceNr - 1).
        var replayFrom = fromSequenceNr + 1;
        var events = new NpgsqlBatchCommand(ReplaySql);
        BindReplay(events.Parameters, persistenceId, replayFrom, long.MaxValue, PrefetchRows + 1);
        batch.BatchCommands.Add(events);
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        var highestSequenceNr = reader.GetInt64(0);
        await reader.NextResultAsync(cancellationToken).ConfigureAwait(false);
        var rows = new List<StoredEvent>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            rows.Add(StoredEvent.Read(reader));
        if (rows.Count is > 0 and <= PrefetchRows)
            Prefetch(persistenceId, new Prefetched(replayFrom, rows));
        else
            _prefetched.TryRemove(persistenceId, out _);
        return highestSequenceNr;
    }

    public override async Task ReplayMessagesAsync(IActorContext context, string persistenceId, long fromSequenceNr, long toSequenceNr,
        long max, Action<IPersistentRepresentation> recoveryCallback)
    {
        var brought = _prefetched.TryRemove(persistenceId, out var prefetched) && prefetched.From == fromSequenceNr ? prefetched.Rows : null;
        if (max <= 0 || toSequenceNr < fromSequenceNr)
            return;
        if (brought is not null)
        {
            foreach (var row in brought.Where(r => r.SequenceNr <= toSequenceNr).Take((int)Math.Min(max, int.MaxValue)))
                recoveryCallback(ToPersistent(persistenceId, row));
            return;
        }
        var delivered = false; // once an event is handed out, a broken connection is not retried (it would hand it out twice)
        await PluginSupport.OnConnectionAsync(_dataSource, async connection =>
        {
            await using var command = new NpgsqlCommand(ReplaySql, connection);
            BindReplay(command.Parameters, persistenceId, fromSequenceNr, toSequenceNr, max);
            await using var reader = await command.ExecuteReaderAsync().ConfigureAwait(false);
            while (await reader.ReadAsync().ConfigureAwait(false))
            {
                delivered = true;
                recoveryCallback(ToPersistent(persistenceId, StoredEvent.Read(reader)));
            }
        }, CancellationToken.None, () => !delivered);
    }

    private static void BindReplay(NpgsqlParameterCollection parameters, string persistenceId, long from, long to, long max)
    {
        parameters.Add(new NpgsqlParameter<string>("p", NpgsqlDbType.Text) { TypedValue = persistenceId });
        parameters.Add(new NpgsqlParameter<long>("from", NpgsqlDbType.Bigint) { TypedValue = from });
        parameters.Add(new NpgsqlParameter<long>("to", NpgsqlDbType.Bigint) { TypedValue = to });
        parameters.Add(new NpgsqlParameter<long>("max", NpgsqlDbType.Bigint) { TypedValue = max });
    }

    private Persistent ToPersistent(string persistenceId, StoredEvent row)
    {
        if (row.Identifier is not { } identifier)
            throw new InvalidOperationException(
                $"journal row {persistenceId}/{row.SequenceNr} has no serializer id (a legacy row format this journal does not read)");
        var payload = _serialization.Deserialize(row.Message, identifier, row.Manifest);
        return new Persistent(payload, row.SequenceNr, persistenceId, row.Manifest, false, ActorRefs.NoSender, row.WriterUuid, row.Created);
    }

    /// <summary>Events a highest-sequence-number read brought along for the replay that follows it.</summary>
    private sealed record Prefetched(long From, List<StoredEvent> Rows);

    protected override Task DeleteMessagesToAsync(string persistenceId, long toSequenceNr, CancellationToken cancellationToken) =>
        PluginSupport.OnConnectionAsync(_dataSource, async connection =>
        {
            await using var batch = new NpgsqlBatch(connection);
            foreach (var sql in new[] { MarkDeletedSql, RemoveDeletedSql })
            {
                var statement = new NpgsqlBatchCommand(sql);
                statement.Parameters.Add(new NpgsqlParameter<string>("p", NpgsqlDbType.Text) { TypedValue = persistenceId });
                statement.Parameters.Add(new NpgsqlParameter<long>("to", NpgsqlDbType.Bigint) { TypedValue = toSequenceNr });
                batch.BatchCommands.Add(statement);
            }
            await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }, cancellationToken);

    protected override void PostStop()
    {
        // The writers finish what is queued (each write's caller is told), then the connections close.
        _writes.Complete();
        var dataSource = _dataSource;
        _ = _writes.Completion.ContinueWith(_ => dataSource.DisposeAsync().AsTask(), TaskScheduler.Default).Unwrap();
        base.PostStop();
    }
}
