using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using Akka.Persistence.Journal;
using PromptActors.Persistence.Sql;
using PromptActors.Persistence.Tests.Support;
using Xunit.Abstractions;

namespace PromptActors.Persistence.Tests.Engine;

/// <summary>
/// The PostgreSQL journal (PromptActors.Persistence.Journal.PostgresJournal) against a real server: many writers at once,
/// recovery in order, deletion, refusals, and rows that Akka.Persistence.Sql's journal reads and writes alike (databases
/// written before this journal keep working, and the plugin's read journal and tools read ours).
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresJournalTests(PostgresFixture postgres, ITestOutputHelper output) : StorageTestBase(postgres)
{
    private const string LibraryJournal = "akka.persistence.journal.sql.class = \"Akka.Persistence.Sql.Journal.SqlWriteJournal, Akka.Persistence.Sql\"";

    [Fact]
    public async Task Events_of_many_writers_at_once_are_all_stored_and_each_writer_recovers_its_own_in_order()
    {
        const int writers = 40, events = 25;
        using (var kit = Kit())
        {
            var actors = Enumerable.Range(0, writers).Select(w => kit.Sys.ActorOf(Props.Create(() => new Recorder("w-" + w)))).ToArray();
            await Task.WhenAll(actors.Select(async (actor, w) =>
            {
                for (var e = 0; e < events; e++)
                    Assert.Equal($"ok {e + 1}", await actor.Ask<string>($"w{w}-e{e}", TimeSpan.FromSeconds(20)));
            }));
        }
        Assert.Equal(writers * events, await ScalarAsync("SELECT COUNT(*) FROM journal"));
        // One writer id per journal (as Akka.Persistence.Sql stamps them), a serializer id and manifest on every row.
        Assert.Equal(1, await ScalarAsync("SELECT COUNT(DISTINCT writer_uuid) FROM journal"));
        Assert.Equal(0, await ScalarAsync("SELECT COUNT(*) FROM journal WHERE identifier IS NULL OR deleted"));

        using var again = Kit();
        for (var w = 0; w < writers; w++)
        {
            var actor = again.Sys.ActorOf(Props.Create(() => new Recorder("w-" + w)));
            var state = await actor.Ask<Recorded>(Get.Instance, TimeSpan.FromSeconds(20));
            Assert.Equal(Enumerable.Range(0, events).Select(e => $"w{w}-e{e}"), state.Events);
            Assert.Equal(events, state.LastSequenceNr);
        }
    }

    [Fact]
    public async Task A_journal_longer_than_what_a_recovery_reads_ahead_is_replayed_whole_and_in_order()
    {
        // A recovery's first read brings along up to 256 events; a longer journal is read by the replay itself.
        using (var kit = Kit())
        {
            var actor = kit.Sys.ActorOf(Props.Create(() => new Recorder("long")));
            await Task.WhenAll(Enumerable.Range(0, 300).Select(e => actor.Ask<string>("e" + e, TimeSpan.FromSeconds(30))));
        }
        using var again = Kit();
        var recovered = again.Sys.ActorOf(Props.Create(() => new Recorder("long")));
        var state = await recovered.Ask<Recorded>(Get.Instance, TimeSpan.FromSeconds(10));
        Assert.Equal(300, state.Events.Length);
        Assert.Equal(300, state.LastSequenceNr);
        Assert.Equal(state.Events.OrderBy(e => int.Parse(e[1..], System.Globalization.CultureInfo.InvariantCulture)), state.Events);
    }

    [Fact]
    public async Task After_a_snapshot_the_events_a_recovery_brings_along_and_a_longer_tail_are_replayed_whole_and_in_order()
    {
        // The snapshot store's load brings the highest number and up to 256 events after the snapshot for the journal;
        // a tail longer than that is read by the replay. Both recover exactly the events after the snapshot.
        foreach (var (id, tail) in new[] { ("snap-short", 10), ("snap-long", 300) })
        {
            using (var kit = Kit())
            {
                var actor = kit.Sys.ActorOf(Props.Create(() => new Recorder(id)));
                for (var e = 0; e < 5; e++)
                    await actor.Ask<string>("s" + e, TimeSpan.FromSeconds(10));
                Assert.Equal("snapshot saved", await actor.Ask<string>(TakeSnapshot.Instance, TimeSpan.FromSeconds(10)));
                await Task.WhenAll(Enumerable.Range(0, tail).Select(e => actor.Ask<string>("t" + e, TimeSpan.FromSeconds(30))));
            }
            using var again = Kit();
            var recovered = again.Sys.ActorOf(Props.Create(() => new Recorder(id)));
            var state = await recovered.Ask<Recorded>(Get.Instance, TimeSpan.FromSeconds(10));
            Assert.Equal(5, state.FromSnapshot);
            Assert.Equal(5 + tail, state.Events.Length);
            Assert.Equal(5 + tail, state.LastSequenceNr);
            Assert.Equal(Enumerable.Range(0, tail).Select(e => "t" + e).Order(), state.Events.Skip(5).Order());
            Assert.Equal($"ok {6 + tail}", await recovered.Ask<string>("next", TimeSpan.FromSeconds(10)));
        }
    }

    [Fact]
    public async Task Deleting_keeps_the_highest_sequence_number_so_the_next_event_goes_on_from_it()
    {
        using (var kit = Kit())
        {
            var actor = kit.Sys.ActorOf(Props.Create(() => new Recorder("deleting")));
            for (var e = 1; e <= 5; e++)
                await actor.Ask<string>("e" + e, TimeSpan.FromSeconds(10));
            Assert.Equal("deleted", await actor.Ask<string>(new DeleteTo(5), TimeSpan.FromSeconds(10)));
        }
        // Only the highest row stays, marked deleted.
        Assert.Equal(1, await ScalarAsync("SELECT COUNT(*) FROM journal WHERE persistence_id = 'deleting' AND deleted AND sequence_number = 5"));
        Assert.Equal(1, await ScalarAsync("SELECT COUNT(*) FROM journal WHERE persistence_id = 'deleting'"));

        using var again = Kit();
        var recovered = again.Sys.ActorOf(Props.Create(() => new Recorder("deleting")));
        var state = await recovered.Ask<Recorded>(Get.Instance, TimeSpan.FromSeconds(10));
        Assert.Empty(state.Events);
        Assert.Equal(5, state.LastSequenceNr);
        Assert.Equal("ok 6", await recovered.Ask<string>("six", TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task After_PostgreSQL_restarts_no_write_recovery_or_snapshot_fails_on_a_dead_pooled_connection()
    {
        // A restart leaves every idle pooled connection dead. A failed persist stops an instance (503 to its caller), so
        // the journal must not hand such a connection's failure to the writer: it empties the pool and tries again.
        const int writers = 8;
        using var kit = Kit();
        var actors = Enumerable.Range(0, writers).Select(w => kit.Sys.ActorOf(Props.Create(() => new Recorder("restart-" + w)))).ToArray();
        for (var round = 1; round <= 3; round++) // several at once, so the pool holds more than one connection
            await Task.WhenAll(actors.Select(a => a.Ask<string>("before " + round, TimeSpan.FromSeconds(20))));
        Assert.Equal("snapshot saved", await actors[0].Ask<string>(TakeSnapshot.Instance, TimeSpan.FromSeconds(20)));

        await RestartServerAsync();
        var answers = await Task.WhenAll(actors.Select(a => a.Ask<string>("after", TimeSpan.FromSeconds(20))));
        Assert.All(answers, answer => Assert.Equal("ok 4", answer));

        // Recovery (the snapshot store's load, the journal's reads) on dead connections too: stop two writers, restart the
        // server, start them again.
        foreach (var actor in actors.Take(2))
        {
            var watch = kit.CreateTestProbe();
            watch.Watch(actor);
            actor.Tell(PoisonPill.Instance);
            watch.ExpectTerminated(actor, TimeSpan.FromSeconds(10));
        }
        await RestartServerAsync();
        for (var w = 0; w < 2; w++)
        {
            var recovered = kit.Sys.ActorOf(Props.Create(() => new Recorder("restart-" + w)));
            var state = await recovered.Ask<Recorded>(Get.Instance, TimeSpan.FromSeconds(20));
            Assert.Equal(["before 1", "before 2", "before 3", "after"], state.Events);
            Assert.Equal(w == 0 ? 3 : 0, state.FromSnapshot);
        }
    }

    [Fact]
    public async Task After_PostgreSQL_restarts_no_store_call_fails_on_a_dead_pooled_connection()
    {
        // The stores' pool holds several connections (calls at once), all dead after the restart: each call's first
        // statement finds its connection dead, takes a new one and runs again (in a write transaction, the transaction too).
        var definition = new PromptActors.Prompts.PromptDefinition("p", "p", [new(PromptActors.Prompts.MessageRole.System, "Hi")]);
        await Storage.Prompts.SaveAsync(definition);
        await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => Storage.Prompts.GetAsync("p", null)));

        await RestartServerAsync();

        var reads = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => Storage.Prompts.GetAsync("p", null)));
        Assert.All(reads, prompt => Assert.Equal(1, prompt!.Version));
        await RestartServerAsync();
        var saves = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Storage.Prompts.SaveAsync(definition)));
        Assert.Equal([2, 3, 4, 5], saves.Select(s => s.Version).Order());
        await RestartServerAsync();
        await Storage.Variables.SetAsync(PromptActors.Variables.ScopeKind.User, "u1", new Dictionary<string, string> { ["a"] = "b" });
        Assert.Equal("b", (await Storage.Variables.GetAsync(PromptActors.Variables.ScopeKind.User, "u1"))["a"]);
    }

    private async Task RestartServerAsync()
    {
        await postgres.Server.StopAsync();
        await postgres.Server.StartAgainAsync();
    }

    [Fact]
    public async Task Replies_to_a_write_come_back_in_order_with_each_event_s_sender_and_deferred_handlers_between_them()
    {
        // The journal answers writes itself (not through AsyncWriteJournal's resequencer): a write that mixes events and
        // deferred handlers, then the next write, must still run every handler in the order it was asked for.
        using var kit = Kit();
        var actor = kit.Sys.ActorOf(Props.Create(() => new Sequencer("sequencer")));
        for (var round = 0; round < 5; round++)
        {
            var expected = new List<string>();
            for (var i = 0; i < 20; i++)
            {
                expected.Add($"r{round}-a{i}");
                if (i % 3 == 0)
                    expected.Add($"r{round}-d{i}");
            }
            expected.AddRange([$"r{round}-x", $"r{round}-y"]);
            Assert.Equal(expected, await actor.Ask<string[]>(new Burst(round, 20), TimeSpan.FromSeconds(20)));
        }
        Assert.Equal(5 * 22, await ScalarAsync("SELECT COUNT(*) FROM journal WHERE persistence_id = 'sequencer'"));
        var recorded = await ScalarAsync("SELECT MAX(sequence_number) FROM journal WHERE persistence_id = 'sequencer'");
        Assert.Equal(5 * 22, recorded); // numbered without gaps, as written
    }

    private sealed record Burst(int Round, int Count);

    /// <summary>Persists a burst of events with deferred handlers between them; answers with the order the handlers ran in.</summary>
    private sealed class Sequencer : ReceivePersistentActor
    {
        public override string PersistenceId { get; }

        public Sequencer(string persistenceId)
        {
            PersistenceId = persistenceId;
            Recover<string>(_ => { });
            Command<Burst>(burst =>
            {
                var replyTo = Sender;
                var ran = new List<string>();
                for (var i = 0; i < burst.Count; i++)
                {
#pragma warning disable AK1006 // one call per event on purpose: handlers of events and deferrals interleave
                    PersistAsync($"r{burst.Round}-a{i}", e => ran.Add(Sender.Equals(replyTo) ? e : e + " (wrong sender)"));
                    if (i % 3 == 0)
                        DeferAsync($"r{burst.Round}-d{i}", d => ran.Add(d));
#pragma warning restore AK1006
                }
                PersistAll(new[] { $"r{burst.Round}-x", $"r{burst.Round}-y" }, e => ran.Add(e));
                DeferAsync("end", _ => replyTo.Tell(ran.ToArray()));
            });
        }
    }

    [Fact]
    public async Task A_tagged_event_is_refused_and_the_writer_goes_on()
    {
        // serialize-messages off here: Akka's own journal protocol carries the rejection's exception, which its
        // verification serializer cannot copy (it would fail inside the journal, not in this journal's code).
        using var kit = Kit(ConfigurationFactory.ParseString("akka.actor.serialize-messages = off"));
        var actor = kit.Sys.ActorOf(Props.Create(() => new Recorder("tagged")));
        Assert.StartsWith("rejected: ", await actor.Ask<string>(new Tagged("t1", ["a-tag"]), TimeSpan.FromSeconds(10)));
        Assert.Equal("ok 2", await actor.Ask<string>("plain", TimeSpan.FromSeconds(10))); // the refused event kept its number
        Assert.Equal(1, await ScalarAsync("SELECT COUNT(*) FROM journal WHERE persistence_id = 'tagged'"));
    }

    [Fact]
    public async Task Rows_of_Akka_Persistence_Sql_s_journal_and_of_this_one_are_read_by_either()
    {
        async Task Write(Config? akka, string persistenceId, params string[] events)
        {
            using var kit = Kit(akka);
            var actor = kit.Sys.ActorOf(Props.Create(() => new Recorder(persistenceId)));
            foreach (var e in events)
                await actor.Ask<string>(e, TimeSpan.FromSeconds(10));
        }
        async Task<string[]> Read(Config? akka, string persistenceId)
        {
            using var kit = Kit(akka);
            var actor = kit.Sys.ActorOf(Props.Create(() => new Recorder(persistenceId)));
            return (await actor.Ask<Recorded>(Get.Instance, TimeSpan.FromSeconds(10))).Events;
        }
        var library = ConfigurationFactory.ParseString(LibraryJournal);

        await Write(library, "mixed", "a", "b");   // written by the plugin (a database from before this journal)
        Assert.Equal(["a", "b"], await Read(null, "mixed"));
        await Write(null, "mixed", "c");           // continued by ours
        Assert.Equal(["a", "b", "c"], await Read(library, "mixed"));
        Assert.Equal(["a", "b", "c"], await Read(null, "mixed"));
    }

    [Fact]
    public async Task Snapshots_of_either_store_are_loaded_by_the_other_and_recovery_starts_after_them()
    {
        var library = ConfigurationFactory.ParseString(
            "akka.persistence.snapshot-store.sql.class = \"PromptActors.Persistence.Journal.FailFastSqlSnapshotStore, PromptActors.Persistence\"");
        async Task<Recorded> Run(Config? akka, string persistenceId, bool snapshot, params string[] events)
        {
            using var kit = Kit(akka);
            var actor = kit.Sys.ActorOf(Props.Create(() => new Recorder(persistenceId)));
            foreach (var e in events)
                await actor.Ask<string>(e, TimeSpan.FromSeconds(10));
            if (snapshot)
                Assert.Equal("snapshot saved", await actor.Ask<string>(TakeSnapshot.Instance, TimeSpan.FromSeconds(10)));
            return await actor.Ask<Recorded>(Get.Instance, TimeSpan.FromSeconds(10));
        }

        await Run(library, "snap-a", snapshot: true, "a", "b");      // the plugin's store saves it
        var mine = await Run(null, "snap-a", snapshot: false, "c");   // ours loads it, then replays nothing before it
        Assert.Equal(["a", "b", "c"], mine.Events);
        Assert.Equal(2, mine.FromSnapshot);
        await Run(null, "snap-a", snapshot: true);                    // ours saves a newer one (at 3)
        var theirs = await Run(library, "snap-a", snapshot: false);
        Assert.Equal(["a", "b", "c"], theirs.Events);
        Assert.Equal(3, theirs.FromSnapshot);
        Assert.Equal(2, await ScalarAsync("SELECT COUNT(*) FROM snapshot WHERE persistence_id = 'snap-a'"));
    }

    private Akka.TestKit.Xunit2.TestKit Kit(Config? akka = null) =>
        new((akka ?? Config.Empty).WithFallback(ConfigurationFactory.ParseString("""
                akka.actor.serialize-messages = on
                akka.loglevel = WARNING
                """)).WithFallback(Storage.AkkaConfig()), "journal-test", output);

    private async Task<long> ScalarAsync(string sql)
    {
        await using var session = await SqlSession.OpenAsync(Storage.Dialect, default);
        return Convert.ToInt64(await session.Sql(sql).ScalarAsync(default), System.Globalization.CultureInfo.InvariantCulture);
    }

    private sealed record Get
    {
        public static readonly Get Instance = new();
    }

    private sealed record DeleteTo(long SequenceNr);

    private sealed record Recorded(string[] Events, long LastSequenceNr, long FromSnapshot = 0);

    private sealed record TakeSnapshot
    {
        public static readonly TakeSnapshot Instance = new();
    }

    /// <summary>Persists each string it is sent and answers "ok {sequence number}".</summary>
    private sealed class Recorder : ReceivePersistentActor
    {
        private readonly List<string> _events = new();
        private IActorRef? _waiting;
        private long _fromSnapshot;

        public Recorder(string persistenceId)
        {
            PersistenceId = persistenceId;
            Recover<string>(e => _events.Add(e));
            Recover<SnapshotOffer>(offer =>
            {
                _events.AddRange((string[])offer.Snapshot);
                _fromSnapshot = offer.Metadata.SequenceNr;
            });
            Command<TakeSnapshot>(_ =>
            {
                _waiting = Sender;
                SaveSnapshot(_events.ToArray());
            });
            Command<SaveSnapshotSuccess>(_ => _waiting?.Tell("snapshot saved"));
            Command<SaveSnapshotFailure>(f => _waiting?.Tell("snapshot failed: " + f.Cause.Message));
            Command<string>(e => Persist(e, persisted =>
            {
                _events.Add(persisted);
                Sender.Tell($"ok {LastSequenceNr}");
            }));
            Command<Tagged>(t =>
            {
                _waiting = Sender;
                Persist(t, _ => Sender.Tell("stored"));
            });
            Command<Get>(_ => Sender.Tell(new Recorded(_events.ToArray(), LastSequenceNr, _fromSnapshot)));
            Command<DeleteTo>(d =>
            {
                _waiting = Sender;
                DeleteMessages(d.SequenceNr);
            });
            Command<DeleteMessagesSuccess>(_ => _waiting?.Tell("deleted"));
            Command<DeleteMessagesFailure>(f => _waiting?.Tell("delete failed: " + f.Cause.Message));
        }

        public override string PersistenceId { get; }

        protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr) =>
            _waiting?.Tell("rejected: " + cause.Message);
    }
}
