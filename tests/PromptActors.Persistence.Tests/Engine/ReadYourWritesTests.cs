using PromptActors.Persistence.Tests.Support;
using PromptActors.Runs;
using PromptActors.Streaming;
using PromptActors.Testing;
using Xunit.Abstractions;

namespace PromptActors.Persistence.Tests.Engine;

/// <summary>
/// A run read right after the instance reports its reply sees every task of the run: the engine asks the instance to
/// wait (bounded) for its outbox before it reads the store. <c>GET /v1/runs/{id}</c> is this engine call.
/// </summary>
public abstract class ReadYourWritesTests(ITestDatabases databases, ITestOutputHelper output) : StorageTestBase(databases)
{
    [Fact]
    public async Task Fifty_turns_each_read_right_after_its_reply_sees_every_task()
    {
        await using var node = EngineNode.Start(Storage, output);
        await node.SavePromptAsync("ryw", "You answer.");
        var instance = await node.StartInstanceAsync("ryw");
        for (var turn = 1; turn <= 50; turn++)
        {
            node.Model.Enqueue(ScriptedReply.Text($"reply {turn}"));
            var (accepted, reply) = await node.SendAsync(instance.InstanceId, turn == 1 ? null : $"turn {turn}");
            Assert.IsType<ReplyCompleted>(reply);

            var run = await node.Engine.GetRunAsync(accepted.RunId!);

            Assert.NotNull(run);
            Assert.Equal(turn, run.TaskCount);
            Assert.All(run.Tasks, t => Assert.Equal(RunTaskStatus.Completed, t.Status));
            Assert.Equal($"reply {turn}", run.Tasks.OrderBy(t => t.Sequence).Last().ResponseText);
        }
        Assert.True((await node.Engine.GetInstanceAsync(instance.InstanceId)).RunTracking.Synced);
    }

    [Fact]
    public async Task A_slow_run_store_is_waited_for_and_the_view_says_when_the_rows_are_written()
    {
        var runs = new FaultingRunStore(Storage.Runs) { Delay = TimeSpan.FromSeconds(1) };
        runs.Rule = r => r.IsTerminal ? WriteFault.DelayThenWrite : WriteFault.None;
        await using var node = EngineNode.Start(Storage, output, runs: runs);
        await node.SavePromptAsync("slow", "You answer.");
        var instance = await node.StartInstanceAsync("slow");
        for (var turn = 1; turn <= 3; turn++)
        {
            node.Model.Enqueue(ScriptedReply.Text($"reply {turn}"));
            var (accepted, _) = await node.SendAsync(instance.InstanceId, turn == 1 ? null : $"turn {turn}");

            // The final row is a second behind the reply: the view says so, and the read waits for it.
            Assert.False((await node.Engine.GetInstanceAsync(instance.InstanceId)).RunTracking.Synced);
            var run = await node.Engine.GetRunAsync(accepted.RunId!);
            Assert.Equal(turn, run!.Tasks.Count(t => t.Status == RunTaskStatus.Completed));
            Assert.True((await node.Engine.GetInstanceAsync(instance.InstanceId)).RunTracking.Synced);
        }
    }

    [Fact]
    public async Task A_run_store_slower_than_the_wait_gives_the_run_as_stored_without_an_error()
    {
        var runs = new FaultingRunStore(Storage.Runs) { Delay = TimeSpan.FromSeconds(3) };
        runs.Rule = r => r.IsTerminal ? WriteFault.DelayThenWrite : WriteFault.None;
        await using var node = EngineNode.Start(Storage, output, runs: runs,
            configure: o =>
            {
                o.Instances.RunReadSyncWait = TimeSpan.FromMilliseconds(200);
                // The pending row at once (only final rows are slow here), so the run exists while its final row is late;
                // with the default delay this fast turn writes only its final row, and the run is not stored before it.
                o.Instances.ProgressRowDelay = TimeSpan.Zero;
            });
        await node.SavePromptAsync("slower", "You answer.");
        var instance = await node.StartInstanceAsync("slower");
        node.Model.Enqueue(ScriptedReply.Text("late"));
        var (accepted, _) = await node.SendAsync(instance.InstanceId, null);

        var run = await node.Engine.GetRunAsync(accepted.RunId!);

        Assert.NotEqual(RunTaskStatus.Completed, Assert.Single(run!.Tasks).Status); // the row is still on its way
        await Eventually.AwaitAssertAsync(async () =>
            Assert.Equal(RunTaskStatus.Completed, Assert.Single((await node.Engine.GetRunAsync(accepted.RunId!))!.Tasks).Status));
    }
}

public sealed class SqliteReadYourWritesTests(SqliteFiles files, ITestOutputHelper output)
    : ReadYourWritesTests(files, output), IClassFixture<SqliteFiles>;

[Collection(PostgresCollection.Name)]
public sealed class PostgresReadYourWritesTests(PostgresFixture postgres, ITestOutputHelper output)
    : ReadYourWritesTests(postgres, output);
