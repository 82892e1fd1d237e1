using PromptActors.Instances;
using PromptActors.Persistence.Tests.Support;
using PromptActors.Runs;
using PromptActors.Testing;
using Xunit.Abstractions;
using PromptActors.Streaming;

namespace PromptActors.Persistence.Tests.Engine;

/// <summary>Where, in the life of one task, the node dies.</summary>
public enum CrashPoint
{
    /// <summary>MessageSubmitted is in the journal; the pending row was never written.</summary>
    BeforePendingRow,

    /// <summary>The pending row is written; the model has not answered.</summary>
    AfterPendingRow,

    /// <summary>The final row is committed, but TaskSynced never made it to the journal.</summary>
    AfterFinalRowBeforeTaskSynced,

    /// <summary>The final row could not be written (the outbox was retrying).</summary>
    WhileFinalRowFails,
}

/// <summary>
/// Exactly-once accounting across a crash at each step of the outbox: after a restart on the same database every task
/// has one row, in a final status, with the right tokens and cost, and the run totals are the sum of the rows.
/// </summary>
public abstract class OutboxCrashTests(ITestDatabases databases, ITestOutputHelper output) : StorageTestBase(databases)
{
    [Theory]
    [InlineData(CrashPoint.BeforePendingRow)]
    [InlineData(CrashPoint.AfterPendingRow)]
    [InlineData(CrashPoint.AfterFinalRowBeforeTaskSynced)]
    [InlineData(CrashPoint.WhileFinalRowFails)]
    public async Task Each_task_is_recorded_exactly_once_after_a_crash(CrashPoint point)
    {
        var faulting = new FaultingRunStore(Storage.Runs)
        {
            Rule = task => (point, task.Status) switch
            {
                (CrashPoint.BeforePendingRow, RunTaskStatus.Pending) => WriteFault.HangBeforeWrite,
                (CrashPoint.AfterPendingRow, RunTaskStatus.Pending) => WriteFault.WriteAndTrip,
                (CrashPoint.AfterFinalRowBeforeTaskSynced, _) when task.IsTerminal => WriteFault.HangAfterWrite,
                (CrashPoint.WhileFinalRowFails, _) when task.IsTerminal => WriteFault.FailBeforeWrite,
                _ => WriteFault.None,
            },
        };
        var unfinished = point is CrashPoint.BeforePendingRow or CrashPoint.AfterPendingRow;

        string instanceId, taskId, runId;
        await using (var node = EngineNode.Start(Storage, output, faulting))
        {
            await node.SavePromptAsync("crash", "You answer briefly.");
            instanceId = (await node.StartInstanceAsync("crash")).InstanceId;
            if (unfinished)
                node.Model.Enqueue(new ScriptedReply { Gate = new TaskCompletionSource().Task }); // the model never answers
            var accepted = await node.Engine.ExecuteMessageAsync(instanceId, "Hello?");
            (taskId, runId) = (accepted.TaskId, accepted.RunId!);

            Assert.Equal(taskId, (await faulting.Tripped.WaitAsync(TimeSpan.FromSeconds(20))).TaskId);
            await node.CrashAsync();
        }

        await using (var node = EngineNode.Start(Storage, output))
        {
            var recovered = await node.Engine.GetInstanceAsync(instanceId); // recovery, and the outbox, start here

            await Eventually.AwaitAssertAsync(async () =>
            {
                var row = Assert.Single(await StoredTasksAsync());
                Assert.Equal(taskId, row.TaskId);
                if (unfinished)
                {
                    Assert.Equal(("failed", 0L, 0m), (row.Status, row.TokensTotal, row.Cost));
                    Assert.Contains(ErrorCodes.Interrupted, row.Errors);
                }
                else
                    Assert.Equal(("completed", 15L, 0.00006m), (row.Status, row.TokensTotal, row.Cost));
            });
            await AssertTotalsMatchTaskRowsAsync(runId);

            if (unfinished)
            {
                Assert.Empty(recovered.Conversation);
                Assert.Equal(ErrorCodes.Interrupted, recovered.Execution.LastError?.Code);
                // The caller retries; the retry is a new task of the same run.
                var (retry, reply) = await node.SendAsync(instanceId, "Hello?");
                Assert.IsType<ReplyCompleted>(reply);
                Assert.Equal(runId, retry.RunId);
                await Eventually.AwaitAssertAsync(async () =>
                    Assert.Equal("completed", (await StoredTasksAsync()).Single(t => t.TaskId == retry.TaskId).Status));
                Assert.Equal(2, (await StoredTasksAsync()).Count);
            }
            else
                Assert.Equal(["Hello?", "ok"], recovered.Conversation.Select(m => m.Content));

            // The outbox caught up: cleanup is refused while the instance still holds an unsynced task.
            await Eventually.AwaitAssertAsync(() => node.Engine.CleanupAsync(instanceId));
            var run = await Storage.Runs.GetRunAsync(runId);
            Assert.Equal((15L, 0.00006m, "idle"), (run!.TotalTokens, run.TotalCost, run.Status));
            Assert.Equal(["Hello?", "ok"], run.Messages.Select(m => m.Content));
            Assert.DoesNotContain(await StoredTasksAsync(), t => t.Status is "pending" or "streaming");
            await AssertTotalsMatchTaskRowsAsync(runId);
        }
    }
}

public sealed class SqliteOutboxCrashTests(SqliteFiles files, ITestOutputHelper output)
    : OutboxCrashTests(files, output), IClassFixture<SqliteFiles>;

[Collection(PostgresCollection.Name)]
public sealed class PostgresOutboxCrashTests(PostgresFixture postgres, ITestOutputHelper output)
    : OutboxCrashTests(postgres, output);
