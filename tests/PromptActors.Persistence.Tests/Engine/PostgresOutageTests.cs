using PromptActors.Instances;
using PromptActors.Persistence.Sql;
using PromptActors.Persistence.Tests.Support;
using Xunit.Abstractions;
using PromptActors.Streaming;

namespace PromptActors.Persistence.Tests.Engine;

/// <summary>A PostgreSQL server of its own, so stopping it disturbs no other test.</summary>
public sealed class PrivatePostgres : ITestDatabases, IAsyncLifetime
{
    private readonly PostgresFixture _inner = new();

    public PostgresServer Server => _inner.Server;

    public string Provider => _inner.Provider;

    public Task InitializeAsync() => _inner.InitializeAsync();

    public Task<StorageOptions> CreateDatabaseAsync() => _inner.CreateDatabaseAsync();

    public Task DisposeAsync() => _inner.DisposeAsync();
}

/// <summary>The database goes away in the middle of a conversation and comes back: nothing is lost or written twice.</summary>
public sealed class PostgresOutageTests(PrivatePostgres postgres, ITestOutputHelper output)
    : StorageTestBase(postgres), IClassFixture<PrivatePostgres>
{
    [Fact]
    public async Task Run_rows_catch_up_after_a_postgres_outage_with_nothing_lost_or_duplicated()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var holdNextFinal = 0;
        var faulting = new FaultingRunStore(Storage.Runs)
        {
            Gate = release.Task,
            // Holds the next final row until the server is down, so the outbox meets the outage.
            Rule = task => task.IsTerminal && Interlocked.CompareExchange(ref holdNextFinal, 0, 1) == 1
                ? WriteFault.HoldThenWrite
                : WriteFault.None,
        };

        // A command stashed behind a journal write that fails is lost with the stopping instance; a short ask timeout
        // lets this test (the caller) notice quickly and ask again.
        await using var node = EngineNode.Start(Storage, output, faulting, configure: o => o.AskTimeout = TimeSpan.FromSeconds(3));
        await node.SavePromptAsync("outage", "You answer briefly.");
        var instanceId = (await node.StartInstanceAsync("outage")).InstanceId;
        var (first, _) = await node.SendAsync(instanceId, "One?");
        await Eventually.AwaitAssertAsync(async () =>
            Assert.Equal("completed", (await StoredTasksAsync()).Single(t => t.TaskId == first.TaskId).Status));

        Volatile.Write(ref holdNextFinal, 1);
        var (second, reply) = await node.SendAsync(instanceId, "Two?");
        Assert.IsType<ReplyCompleted>(reply);
        Assert.Equal(second.TaskId, (await faulting.Tripped.WaitAsync(TimeSpan.FromSeconds(20))).TaskId);

        await postgres.Server.StopAsync();
        release.SetResult(); // the held write now meets a stopped server, and the outbox keeps retrying

        // The user is not blocked by the outage: the instance answers from memory.
        var during = await node.Engine.GetInstanceAsync(instanceId);
        Assert.Equal(InstanceStatus.Completed, during.Status);
        Assert.Equal(4, during.Conversation.Count);

        await postgres.Server.StartAgainAsync();

        await Eventually.AwaitAssertAsync(async () =>
            Assert.Equal("completed", (await StoredTasksAsync()).Single(t => t.TaskId == second.TaskId).Status),
            TimeSpan.FromSeconds(30));
        // The journal may still hold connections the restart broke: the next journal write (task 3's MessageSubmitted,
        // which also records task 2 as synced) can fail, and then nothing was written and the instance stops; it recovers
        // when asked again. So task 3 is sent until it is accepted.
        (MessageAccepted Accepted, ReplyEvent Reply)? third = null;
        await Eventually.AwaitConditionAsync(async () =>
        {
            try
            {
                third = await node.SendAsync(instanceId, "Three?");
                return true;
            }
            catch (PromptActorsException ex)
            {
                output.WriteLine($"task 3 not accepted yet: {ex.Code}");
                return false;
            }
        }, "task 3 is accepted after the outage", TimeSpan.FromSeconds(30));
        Assert.IsType<ReplyCompleted>(third!.Value.Reply);
        await Eventually.AwaitAssertAsync(() => node.Engine.CleanupAsync(instanceId), TimeSpan.FromSeconds(30));

        var rows = await StoredTasksAsync();
        Assert.Equal([first.TaskId, second.TaskId, third.Value.Accepted.TaskId], rows.Select(r => r.TaskId));
        Assert.All(rows, r => Assert.Equal(("completed", 15L, 0.00006m), (r.Status, r.TokensTotal, r.Cost)));
        var run = await Storage.Runs.GetRunAsync(first.RunId!);
        Assert.Equal((3, 45L, 0.00018m, 6), (run!.TaskCount, run.TotalTokens, run.TotalCost, run.MessageCount));
        Assert.Equal(["One?", "ok", "Two?", "ok", "Three?", "ok"], run.Messages.Select(m => m.Content));
        await AssertTotalsMatchTaskRowsAsync(first.RunId!);
    }
}
