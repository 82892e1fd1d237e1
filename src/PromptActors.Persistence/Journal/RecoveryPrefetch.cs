using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Akka.Actor;
using Npgsql;

namespace PromptActors.Persistence.Journal;

/// <summary>One journal row as read (the columns of <see cref="RecoveryPrefetch.EventsSql"/>'s select).</summary>
internal sealed record StoredEvent(long SequenceNr, long Created, byte[] Message, string Manifest, int? Identifier, string? WriterUuid)
{
    public const string Columns = "sequence_number, created, message, manifest, identifier, writer_uuid";

    public static StoredEvent Read(NpgsqlDataReader r) => new(r.GetInt64(0), r.GetInt64(1), (byte[])r.GetValue(2),
        r.IsDBNull(3) ? "" : r.GetString(3), r.IsDBNull(4) ? null : r.GetInt32(4), r.IsDBNull(5) ? null : r.GetString(5));
}

/// <summary>
/// What a recovery's first read brought along for the reads Akka makes next, per actor system. A recovery asks the
/// snapshot store for the latest snapshot, then the journal for the highest sequence number, then for the events after the
/// snapshot: <see cref="PostgresSnapshotStore"/> reads all three in its one round trip and leaves the journal's part here,
/// so a recovery is one round trip (the hand-written replay's count). Entries are taken once; those of recoveries that
/// stopped in between are forgotten when there are too many.
/// </summary>
internal sealed class RecoveryPrefetch
{
    /// <summary>Most events brought along; a longer journal is read by the replay itself.</summary>
    public const int MaxRows = 256;

    private const int MaxEntries = 4096;

    public const string HighestSql = "SELECT COALESCE(MAX(sequence_number), 0) FROM journal WHERE persistence_id = @p";

    /// <summary>The events after the snapshot the same criteria select (<c>@max_seq</c>…<c>@min_ts</c>), up to <see cref="MaxRows"/> + 1.</summary>
    public const string EventsSql = $"""
        SELECT {StoredEvent.Columns} FROM journal
        WHERE persistence_id = @p AND NOT deleted AND sequence_number > COALESCE((
            SELECT MAX(sequence_number) FROM snapshot
            WHERE persistence_id = @p AND sequence_number <= @max_seq AND sequence_number >= @min_seq
              AND created <= @max_ts AND created >= @min_ts), 0)
        ORDER BY sequence_number LIMIT 257
        """;

    private static readonly ConditionalWeakTable<ActorSystem, RecoveryPrefetch> Systems = new();

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    /// <summary>The highest sequence number and the events from <see cref="From"/> on (all of them when <see cref="Complete"/>).</summary>
    public sealed record Entry(long From, long Highest, List<StoredEvent> Rows, bool Complete);

    public static RecoveryPrefetch For(ActorSystem system) => Systems.GetValue(system, _ => new RecoveryPrefetch());

    public void Put(string persistenceId, Entry entry)
    {
        if (_entries.Count >= MaxEntries)
            _entries.Clear();
        _entries[persistenceId] = entry;
    }

    public bool TryTake(string persistenceId, out Entry entry) => _entries.TryRemove(persistenceId, out entry!);
}
