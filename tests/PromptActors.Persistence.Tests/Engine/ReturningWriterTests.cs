using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Configuration;
using PromptActors.Instances;
using PromptActors.Persistence.Sql;
using PromptActors.Persistence.Tests.Support;
using PromptActors.Testing;
using Xunit.Abstractions;
using PromptActors.Streaming;

namespace PromptActors.Persistence.Tests.Engine;

/// <summary>
/// An instance that moves from node A to node B and back to the same, still running, process A. Akka.Persistence.Sql
/// stamps every event with one writer id per journal (per process), so the journal then holds writer ids A, B, A. The
/// journal's default replay filter (<c>repair-by-discard-old</c>) reads A's second batch as a stale writer's and drops it
/// on every later recovery: completed replies vanished from conversations after failover (issue 12). Cluster Sharding
/// keeps one writer per instance and the journal's unique (persistence_id, sequence_number) refuses a second writer's
/// event, so the engine turns the filter off; these tests write such a journal with real nodes and read it back.
/// </summary>
public abstract class ReturningWriterTests(ITestDatabases databases, ITestOutputHelper output) : StorageTestBase(databases)
{
    [Fact]
    public async Task A_writer_that_returns_to_an_instance_keeps_every_event_on_recovery()
    {
        var (instanceId, replies) = await WriteAbaJournalAsync();

        // A fresh node (a restart of the whole cluster) recovers the whole conversation, in order, each reply once.
        await using var fresh = EngineNode.Start(Storage, output);
        var view = await fresh.Engine.GetInstanceAsync(instanceId);
        Assert.Equal(replies, view.Conversation.Where(m => m.Role == PromptActors.Prompts.MessageRole.Assistant).Select(m => m.Content));
        Assert.Equal(6, view.Conversation.Count);
        await Eventually.AwaitAssertAsync(async () =>
        {
            var run = await Storage.Runs.GetRunAsync(view.RunTracking.RunId!);
            Assert.Equal(3, run!.TaskCount);
            Assert.Equal(run.TotalTokens, view.RunTracking.TotalTokens);
        });

        // And the instance goes on from the last event: a fourth turn continues the same journal.
        fresh.Model.Enqueue(ScriptedReply.Text("four"));
        Assert.IsType<ReplyCompleted>((await fresh.SendAsync(instanceId, "turn 4")).Reply);
        Assert.Equal(8, (await fresh.Engine.GetInstanceAsync(instanceId)).Conversation.Count);
    }

    [Fact]
    public async Task The_default_replay_filter_would_drop_the_returning_writers_events()
    {
        // The journal the failing runs wrote, read with Akka's default filter: A's second batch is gone. This is what the
        // engine's configuration prevents; it also shows that the journal above really has the A, B, A shape.
        var (instanceId, replies) = await WriteAbaJournalAsync();
        await using var filtered = EngineNode.Start(Storage, output,
            akka: ConfigurationFactory.ParseString("akka.persistence.journal.sql.replay-filter.mode = repair-by-discard-old"));
        var view = await filtered.Engine.GetInstanceAsync(instanceId);
        Assert.Equal(replies[..2], view.Conversation.Where(m => m.Role == PromptActors.Prompts.MessageRole.Assistant).Select(m => m.Content));
    }

    [Fact]
    public async Task The_journal_refuses_a_second_writers_event_at_a_taken_sequence_number()
    {
        // Why the filter can be off: a second writer (a zombie node after a split brain) cannot add an event the first
        // one already wrote at that sequence number; its persist fails and that incarnation stops.
        var (instanceId, _) = await WriteAbaJournalAsync();
        await using var session = await SqlSession.OpenAsync(Storage.Dialect, default);
        var duplicate = session.Sql("""
                INSERT INTO journal (created, deleted, persistence_id, sequence_number, message, manifest, identifier, writer_uuid)
                SELECT created, deleted, persistence_id, sequence_number, message, manifest, identifier, 'zombie'
                FROM journal WHERE persistence_id = @p AND sequence_number = 2
                """).Text("p", ExecutionInstanceActor.PersistenceIdPrefix + instanceId);
        await Assert.ThrowsAnyAsync<System.Data.Common.DbException>(() => duplicate.ExecuteAsync(default));
    }

    /// <summary>
    /// Turn 1 on node A, turn 2 on node B (a second actor system on the same database, as a second host process), turn 3 on
    /// A again after its first incarnation of the instance passivated: the journal's writer ids read A…, B…, A….
    /// </summary>
    private async Task<(string InstanceId, string[] Replies)> WriteAbaJournalAsync()
    {
        string instanceId;
        await using var a = EngineNode.Start(Storage, output, configure: Passivate);
        await a.SavePromptAsync("aba", "Echo.");
        instanceId = (await a.StartInstanceAsync("aba", config: new ExecutionConfig(AllowChat: true))).InstanceId;
        a.Model.Enqueue(ScriptedReply.Text("one"));
        Assert.IsType<ReplyCompleted>((await a.SendAsync(instanceId, "turn 1")).Reply);
        await WaitPassivatedAsync(a, instanceId);

        await using (var b = EngineNode.Start(Storage, output, configure: Passivate))
        {
            b.Model.Enqueue(ScriptedReply.Text("two"));
            Assert.IsType<ReplyCompleted>((await b.SendAsync(instanceId, "turn 2")).Reply);
            await WaitPassivatedAsync(b, instanceId);
        }

        a.Model.Enqueue(ScriptedReply.Text("three"));
        Assert.IsType<ReplyCompleted>((await a.SendAsync(instanceId, "turn 3")).Reply);
        await WaitPassivatedAsync(a, instanceId);

        var writers = await WriterRunsAsync(ExecutionInstanceActor.PersistenceIdPrefix + instanceId);
        Assert.Equal(3, writers.Count);
        Assert.Equal(writers[0], writers[2]);
        Assert.NotEqual(writers[0], writers[1]);
        return (instanceId, ["one", "two", "three"]);
    }

    private static void Passivate(PromptActors.Engine.PromptActorsOptions options) =>
        options.Instances.IdlePassivation = TimeSpan.FromMilliseconds(300);

    private static Task WaitPassivatedAsync(EngineNode node, string instanceId) => Eventually.AwaitAssertAsync(async () =>
    {
        var state = await node.Runtime.InstanceRegion.Ask<CurrentShardRegionState>(GetShardRegionState.Instance, TimeSpan.FromSeconds(3));
        Assert.DoesNotContain(state.Shards, s => s.EntityIds.Contains(instanceId));
    });

    /// <summary>The journal's writer ids for one persistence id, one entry per run of equal ids, in sequence order.</summary>
    private async Task<List<string>> WriterRunsAsync(string persistenceId)
    {
        await using var session = await SqlSession.OpenAsync(Storage.Dialect, default);
        var ids = await session.Sql("SELECT writer_uuid FROM journal WHERE persistence_id = @p ORDER BY sequence_number")
            .Text("p", persistenceId).QueryAsync(r => r.GetString(0), default);
        var runs = new List<string>();
        foreach (var id in ids)
            if (runs.Count == 0 || runs[^1] != id)
                runs.Add(id);
        return runs;
    }
}

public sealed class SqliteReturningWriterTests(SqliteFiles files, ITestOutputHelper output)
    : ReturningWriterTests(files, output), IClassFixture<SqliteFiles>;

[Collection(PostgresCollection.Name)]
public sealed class PostgresReturningWriterTests(PostgresFixture postgres, ITestOutputHelper output)
    : ReturningWriterTests(postgres, output);
