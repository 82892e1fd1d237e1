using Akka.Actor;
using PromptActors.Instances;
using PromptActors.Runs;
using PromptActors.Testing;
using PromptActors.Tests.Support;
using Xunit.Abstractions;
using PromptActors.Streaming;

namespace PromptActors.Tests.Instances;

/// <summary>
/// What the cluster relies on inside one node: repeated messages create no second task, a hand-off lets the running task
/// finish, and the task sweeper recovers an instance whose task row was left open without anyone addressing it.
/// </summary>
public sealed class ClusterSupportTests(ITestOutputHelper output) : EngineTestKit(output, o =>
{
    o.TaskSweeper.Interval = TimeSpan.FromMilliseconds(200);
    o.TaskSweeper.StaleAfter = TimeSpan.FromSeconds(30);
})
{
    [Fact]
    public async Task A_repeated_message_with_the_same_request_id_is_answered_with_the_first_task_even_after_recovery()
    {
        await SavePromptAsync("chat", "You chat.");
        var view = await StartAsync("chat", new ExecutionConfig(AllowChat: true));
        var gate = new TaskCompletionSource();
        Model.Enqueue(ScriptedReply.Text("one") with { Gate = gate.Task });
        var command = new ExecuteMessage(view.InstanceId, "hello", "request-1");

        var first = await Runtime.InstanceRegion.Ask<MessageAccepted>(command, TimeSpan.FromSeconds(5));
        var whileRunning = await Runtime.InstanceRegion.Ask<MessageAccepted>(command, TimeSpan.FromSeconds(5));
        gate.SetResult();
        Assert.IsType<ReplyCompleted>(await Engine.WaitForReplyAsync(view.InstanceId));
        var afterwards = await Runtime.InstanceRegion.Ask<MessageAccepted>(command, TimeSpan.FromSeconds(5));
        await StopEntityAsync(view.InstanceId);
        var afterRecovery = await Runtime.InstanceRegion.Ask<MessageAccepted>(command, TimeSpan.FromSeconds(5));

        Assert.All(new[] { whileRunning, afterwards, afterRecovery }, a => Assert.Equal(first.TaskId, a.TaskId));
        var conversation = (await Engine.GetInstanceAsync(view.InstanceId)).Conversation;
        Assert.Single(conversation, m => m.Role == PromptActors.Prompts.MessageRole.User);
        Assert.Single(Model.Requests);

        // A new request id is a new message.
        Model.Enqueue(ScriptedReply.Text("two"));
        var next = await Runtime.InstanceRegion.Ask<MessageAccepted>(new ExecuteMessage(view.InstanceId, "again", "request-2"), TimeSpan.FromSeconds(5));
        Assert.NotEqual(first.TaskId, next.TaskId);
    }

    [Fact]
    public async Task A_hand_off_lets_the_running_task_finish_and_record_its_row_before_the_instance_stops()
    {
        await SavePromptAsync("chat", "You chat.");
        var deps = new InstanceDependencies(Runtime.PromptCache, Runtime.ScopedVariables, Runtime.Reaper, Runtime.Services.Models, Runs,
            Clock, Runtime.InstanceSettings with { HandOffWait = TimeSpan.FromSeconds(20) }, Runtime.Materializer);
        var instance = Sys.ActorOf(ExecutionInstanceActor.Props("handed-off", deps));
        Assert.IsType<InstanceView>(await instance.Ask<object>(new StartInstance("handed-off", "chat", U1), TimeSpan.FromSeconds(5)));
        var gate = new TaskCompletionSource();
        Model.Enqueue(ScriptedReply.Text("finished", " anyway") with { Gate = gate.Task });
        var accepted = await instance.Ask<MessageAccepted>(new ExecuteMessage("handed-off", "go"), TimeSpan.FromSeconds(5));
        var watcher = CreateTestProbe();
        watcher.Watch(instance);

        instance.Tell(StopInstance.Instance); // what the shard sends during a hand-off
        watcher.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        var busy = await instance.Ask<Rejected>(new ExecuteMessage("handed-off", "another"), TimeSpan.FromSeconds(5));
        Assert.Equal(ErrorCodes.InstanceBusy, busy.Code);
        gate.SetResult();

        watcher.ExpectTerminated(instance, TimeSpan.FromSeconds(10));
        var row = Assert.Single(Runs.Tasks, t => t.TaskId == accepted.TaskId);
        Assert.Equal(RunTaskStatus.Completed, row.Status);
        Assert.Equal("finished anyway", row.ResponseText);
        Assert.Equal("handed-off", row.Run.InstanceId);
    }

    [Fact]
    public async Task The_sweeper_recovers_an_instance_whose_node_died_mid_task_without_anyone_addressing_it()
    {
        await SavePromptAsync("chat", "You chat.");
        var view = await StartAsync("chat");
        Model.Enqueue(ScriptedReply.Text("never") with { Gate = new TaskCompletionSource().Task });
        var accepted = await Engine.ExecuteMessageAsync(view.InstanceId, "hi");
        await AwaitAssertAsync(() => Assert.Equal(RunTaskStatus.Pending, Assert.Single(Runs.Tasks).Status));

        await StopEntityAsync(view.InstanceId); // as if its node died: the row stays pending
        Clock.Advance(TimeSpan.FromMinutes(1)); // older than StaleAfter

        await AwaitAssertAsync(() =>
        {
            var row = Assert.Single(Runs.Tasks);
            Assert.Equal(accepted.TaskId, row.TaskId);
            Assert.Equal(RunTaskStatus.Failed, row.Status);
            Assert.Equal(ErrorCodes.Interrupted, row.ErrorCode);
        }, TimeSpan.FromSeconds(15));
    }

    [Fact]
    public async Task The_sweeper_closes_a_row_whose_instance_holds_no_outcome_of_the_task()
    {
        // The row of a task the instance's journal does not record (events lost before the replay filter was turned off,
        // or a row written by an incarnation whose events never landed): no instance will ever finish it.
        await SavePromptAsync("chat", "You chat.");
        var view = await StartAsync("chat");
        Model.Enqueue(ScriptedReply.Text("done"));
        await Engine.ExecuteMessageAsync(view.InstanceId, "hi");
        Assert.IsType<ReplyCompleted>(await Engine.WaitForReplyAsync(view.InstanceId));
        await AwaitAssertAsync(() => Assert.Single(Runs.Tasks, t => t.Status == RunTaskStatus.Completed));
        var real = Runs.Tasks.Single(t => t.Status == RunTaskStatus.Completed);
        await Runs.UpsertTaskAsync(real with
        {
            TaskId = "lost-task", Status = RunTaskStatus.Streaming, ResponseText = null, CompletedAt = null,
            TokensInput = 7, TokensOutput = 0, TokensTotal = 7, Cost = 0m, Sequence = 2,
        });

        Clock.Advance(TimeSpan.FromMinutes(1)); // older than StaleAfter

        await AwaitAssertAsync(() =>
        {
            var row = Assert.Single(Runs.Tasks, t => t.TaskId == "lost-task");
            Assert.Equal(RunTaskStatus.Failed, row.Status);
            Assert.Equal(ErrorCodes.Interrupted, row.ErrorCode);
            Assert.NotNull(row.CompletedAt);
        }, TimeSpan.FromSeconds(15));
        var run = await Runs.GetRunAsync(real.Run.RunId);
        Assert.Equal(2, run!.TaskCount);
        Assert.Equal(real.TokensTotal + 7, run.TotalTokens);
        // The instance itself is unchanged and usable.
        Assert.Equal(InstanceStatus.Completed, (await Engine.GetInstanceAsync(view.InstanceId)).Status);
    }

    [Fact]
    public void A_node_that_is_not_a_member_is_gone_at_once_and_is_not_remembered_as_gone()
    {
        var absent = "akka.tcp://engine-test@127.0.0.1:1";

        var gone = Runtime.Nodes.WhenGone(absent);

        Assert.True(gone!.IsCompleted);
        Assert.Equal(0, Runtime.Nodes.Watched); // a later member at that address starts with a fresh watch
        Assert.Null(Runtime.Nodes.WhenGone(Akka.Cluster.Cluster.Get(Sys).SelfAddress.ToString()));
    }
}
