using PromptActors.Instances;
using PromptActors.Runs;
using PromptActors.Testing;
using PromptActors.Tests.Support;
using Xunit.Abstractions;
using PromptActors.Streaming;

namespace PromptActors.Tests.Instances;

public sealed class RecoveryTests(ITestOutputHelper output)
    : EngineTestKit(output, o => o.Instances.SnapshotEvery = 5)
{
    [Fact]
    public async Task Instance_stopped_and_recreated_has_the_same_conversation_variables_and_totals()
    {
        await SavePromptAsync("chat", "You chat about {{topic}}.", "Hi");
        var view = await StartAsync("chat", variables: new Dictionary<string, string> { ["topic"] = "cats" });
        Model.Enqueue(ScriptedReply.Text("one") with { Usage = new(10, 1) });
        Model.Enqueue(ScriptedReply.Text("two") with { Usage = new(20, 2) });
        Model.Enqueue(ScriptedReply.Text("three") with { Usage = new(30, 3) });
        await SendAsync(view.InstanceId);
        await Engine.UpdateVariablesAsync(view.InstanceId, new Dictionary<string, string> { ["topic"] = "dogs", ["extra"] = "x" });
        await SendAsync(view.InstanceId, "more");
        await SendAsync(view.InstanceId, "and more"); // crosses the snapshot interval (every 5 events)
        var before = await Engine.GetInstanceAsync(view.InstanceId);

        await StopEntityAsync(view.InstanceId);
        var after = await Engine.GetInstanceAsync(view.InstanceId);

        Assert.Equal(before.Conversation.Select(m => (m.Role, m.Content, m.TaskId)), after.Conversation.Select(m => (m.Role, m.Content, m.TaskId)));
        Assert.Equal(before.Variables!.UserValues, after.Variables!.UserValues);
        // A recovered instance sends again the rows whose acknowledgement it never journaled: not synced until they land.
        Assert.Equal(before.RunTracking, after.RunTracking with { Synced = before.RunTracking.Synced });
        Assert.Equal(66, after.RunTracking.TotalTokens);
        await AwaitAssertAsync(async () => Assert.True((await Engine.GetInstanceAsync(view.InstanceId)).RunTracking.Synced));
        Assert.Equal(before.Execution.LastMessageStats, after.Execution.LastMessageStats);
        Assert.Equal(InstanceStatus.Completed, after.Status);

        // and it carries on where it left off
        Model.Enqueue(ScriptedReply.Text("four"));
        await SendAsync(view.InstanceId, "last");
        Assert.EndsWith("assistant: three\nuser: last", Text(Model.Requests[^1]));
    }

    [Fact]
    public async Task Task_running_when_the_instance_stopped_is_marked_interrupted_and_the_caller_may_retry()
    {
        await SavePromptAsync("chat", "You chat.", "Hi");
        var view = await StartAsync("chat");
        Model.Enqueue(ScriptedReply.Text("never") with { Gate = new TaskCompletionSource().Task });
        var accepted = await Engine.ExecuteMessageAsync(view.InstanceId);

        await StopEntityAsync(view.InstanceId);
        var after = await Engine.GetInstanceAsync(view.InstanceId);

        Assert.Equal(InstanceStatus.Ready, after.Status);
        Assert.Null(after.Execution.CurrentTaskId);
        Assert.Equal(ErrorCodes.Interrupted, after.Execution.LastError!.Code);
        Assert.Equal(accepted.TaskId, after.Execution.LastError.TaskId);
        await AwaitAssertAsync(() =>
        {
            var row = Assert.Single(Runs.Tasks);
            Assert.Equal(RunTaskStatus.Failed, row.Status);
            Assert.Equal(ErrorCodes.Interrupted, row.ErrorCode);
            return Task.CompletedTask;
        });

        Model.Enqueue(ScriptedReply.Text("retried"));
        Assert.Equal("retried", Assert.IsType<ReplyCompleted>(await SendAsync(view.InstanceId)).Text);
    }

    [Fact]
    public async Task Run_store_outage_is_caught_up_by_the_outbox_with_exactly_one_row_per_task()
    {
        await SavePromptAsync("chat", "You chat.", "Hi");
        var view = await StartAsync("chat");
        Runs.FailWritesWith = new InvalidOperationException("database down");
        Model.Enqueue(ScriptedReply.Text("one") with { Usage = new(10, 1) }, ScriptedReply.Text("two") with { Usage = new(20, 2) });
        var first = await Engine.ExecuteMessageAsync(view.InstanceId);
        await Engine.WaitForReplyAsync(view.InstanceId);
        await SendAsync(view.InstanceId, "again");
        Assert.Empty(Runs.Tasks);

        // the instance passivates and comes back while the store is still down: the unsynced rows survive in its journal
        await StopEntityAsync(view.InstanceId);
        Assert.Equal(2, (await Engine.GetInstanceAsync(view.InstanceId)).RunTracking.TaskCount);
        Runs.FailWritesWith = null;

        await AwaitAssertAsync(async () =>
        {
            var run = await Engine.GetRunAsync(first.RunId!);
            Assert.NotNull(run);
            Assert.Equal(2, run!.Tasks.Count);
            Assert.All(run.Tasks, t => Assert.Equal(RunTaskStatus.Completed, t.Status));
            Assert.Equal(33, run.TotalTokens);
        }, TimeSpan.FromSeconds(15));
    }

    [Fact]
    public async Task Outbox_acknowledgements_ride_on_the_next_message_so_recovery_rewrites_only_the_last_final_row()
    {
        await SavePromptAsync("chat", "You chat.", "Hi");
        var view = await StartAsync("chat");
        Model.Enqueue(ScriptedReply.Text("one"), ScriptedReply.Text("two"), ScriptedReply.Text("three"));
        await SendAsync(view.InstanceId, "1");
        await SendAsync(view.InstanceId, "2");
        await SendAsync(view.InstanceId, "3");
        await AwaitAssertAsync(() =>
        {
            Assert.Equal(3, Runs.Tasks.Count(t => t.Status == RunTaskStatus.Completed));
            return Task.CompletedTask;
        });
        var writes = Runs.WriteCount;

        await StopEntityAsync(view.InstanceId);
        await Engine.GetInstanceAsync(view.InstanceId);

        // Tasks 1 and 2 were acknowledged on the MessageSubmitted of tasks 2 and 3 (no TaskSynced rows). Task 3's
        // acknowledgement had no later event to ride on, so the recovered instance writes its final row once more:
        // an idempotent upsert that changes nothing.
        await AwaitAssertAsync(() =>
        {
            Assert.Equal(writes + 1, Runs.WriteCount);
            return Task.CompletedTask;
        });
        await Engine.GetInstanceAsync(view.InstanceId);
        Assert.Equal(writes + 1, Runs.WriteCount);
        Assert.Equal(3, Runs.Tasks.Count);
        Assert.All(Runs.Tasks, t => Assert.Equal(RunTaskStatus.Completed, t.Status));

        // and once that write is confirmed, the instance is done with its outbox: the next turn carries the acknowledgement.
        Model.Enqueue(ScriptedReply.Text("four"));
        await SendAsync(view.InstanceId, "4");
        await StopEntityAsync(view.InstanceId);
        writes = Runs.WriteCount;
        await Engine.GetInstanceAsync(view.InstanceId);
        await AwaitAssertAsync(() =>
        {
            Assert.Equal(writes + 1, Runs.WriteCount); // task 4 only
            return Task.CompletedTask;
        });
    }
}
