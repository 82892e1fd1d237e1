using PromptActors.Instances;
using PromptActors.Runs;
using PromptActors.Streaming;
using PromptActors.Testing;
using PromptActors.Tests.Support;
using Xunit.Abstractions;

namespace PromptActors.Tests.Instances;

/// <summary>
/// A turn that ends before <c>Instances:ProgressRowDelay</c> writes only its final row (one run-store commit instead of
/// three); here the delay is a minute, so no turn outlives it.
/// </summary>
public sealed class ProgressRowTests(ITestOutputHelper output) : EngineTestKit(output, o =>
    o.Instances.ProgressRowDelay = TimeSpan.FromMinutes(1))
{
    [Fact]
    public async Task A_turn_that_ends_before_the_delay_writes_only_its_final_row()
    {
        await SavePromptAsync("chat", "You chat.");
        var view = await StartAsync("chat");
        Model.Enqueue(ScriptedReply.Text("quick answer"));
        await Engine.ExecuteMessageAsync(view.InstanceId, "hi");
        Assert.IsType<ReplyCompleted>(await Engine.WaitForReplyAsync(view.InstanceId));

        await AwaitAssertAsync(() => Assert.Equal(RunTaskStatus.Completed, Assert.Single(Runs.Tasks).Status));
        Assert.Equal(1, Runs.WriteCount); // no pending row, no streaming mark
        Assert.Equal("quick answer", Runs.Tasks[0].ResponseText);
    }

    [Fact]
    public async Task A_running_turn_has_no_row_before_the_delay_until_a_run_read_asks_for_it()
    {
        await SavePromptAsync("chat", "You chat.");
        var view = await StartAsync("chat");
        var gate = new TaskCompletionSource();
        Model.Enqueue(ScriptedReply.Text("late") with { Gate = gate.Task });
        var accepted = await Engine.ExecuteMessageAsync(view.InstanceId, "hi");
        Assert.Equal(InstanceStatus.Executing, (await Engine.GetInstanceAsync(view.InstanceId)).Status);
        Assert.Empty(Runs.Tasks);

        // A run read does not wait for the delay: the instance writes the running task's row first, then it is read.
        var run = await Engine.GetRunAsync(accepted.RunId!);
        Assert.Equal(RunTaskStatus.Pending, Assert.Single(run!.Tasks).Status);
        Assert.Equal(1, Runs.WriteCount);

        gate.SetResult();
        Assert.IsType<ReplyCompleted>(await Engine.WaitForReplyAsync(view.InstanceId));
        await AwaitAssertAsync(() => Assert.Equal(RunTaskStatus.Completed, Assert.Single(Runs.Tasks).Status));
        Assert.Equal(3, Runs.WriteCount); // that row, its streaming mark at the first token, the final row
    }
}

/// <summary>
/// A turn that outlives <c>Instances:ProgressRowDelay</c> (200 ms here) gets its row then: pending while the model has
/// said nothing, streaming (in that same first write) when its first token came before, marked streaming at the first token
/// otherwise, and completed at the end.
/// </summary>
public sealed class ProgressRowDelayTests(ITestOutputHelper output) : EngineTestKit(output, o =>
    o.Instances.ProgressRowDelay = TimeSpan.FromMilliseconds(200))
{
    [Fact]
    public async Task A_turn_waiting_for_its_first_token_is_written_pending_then_marked_streaming_then_completed()
    {
        await SavePromptAsync("chat", "You chat.");
        var view = await StartAsync("chat");
        var gate = new TaskCompletionSource();
        var second = new TaskCompletionSource();
        Model.Enqueue(new ScriptedReply
        {
            Chunks = ["first", " second"],
            Gate = gate.Task,
            BeforeChunk = (i, _) => i == 1 ? second.Task : Task.CompletedTask,
        });
        await Engine.ExecuteMessageAsync(view.InstanceId, "hi");
        await AwaitAssertAsync(() => Assert.Equal(RunTaskStatus.Pending, Assert.Single(Runs.Tasks).Status));
        Assert.Equal(1, Runs.WriteCount);

        gate.SetResult(); // the first token: the row is marked streaming
        await AwaitAssertAsync(() => Assert.Equal(RunTaskStatus.Streaming, Assert.Single(Runs.Tasks).Status));
        Assert.Equal(2, Runs.WriteCount);

        second.SetResult();
        Assert.IsType<ReplyCompleted>(await Engine.WaitForReplyAsync(view.InstanceId));
        await AwaitAssertAsync(() => Assert.Equal(RunTaskStatus.Completed, Assert.Single(Runs.Tasks).Status));
        Assert.Equal(3, Runs.WriteCount);
        Assert.Equal("first second", Runs.Tasks[0].ResponseText);
    }

    [Fact]
    public async Task A_turn_that_streamed_before_the_delay_is_first_written_as_streaming()
    {
        await SavePromptAsync("chat", "You chat.");
        var view = await StartAsync("chat");
        var second = new TaskCompletionSource();
        Model.Enqueue(new ScriptedReply
        {
            Chunks = ["first", " second"],
            BeforeChunk = (i, _) => i == 1 ? second.Task : Task.CompletedTask,
        });
        await Engine.ExecuteMessageAsync(view.InstanceId, "hi");
        await AwaitAssertAsync(async () =>
            Assert.Equal(InstanceStatus.Streaming, (await Engine.GetInstanceAsync(view.InstanceId)).Status));

        await AwaitAssertAsync(() => Assert.Equal(RunTaskStatus.Streaming, Assert.Single(Runs.Tasks).Status));
        Assert.Equal(1, Runs.WriteCount); // one write, saying streaming: no pending row before it

        second.SetResult();
        Assert.IsType<ReplyCompleted>(await Engine.WaitForReplyAsync(view.InstanceId));
        await AwaitAssertAsync(() => Assert.Equal(RunTaskStatus.Completed, Assert.Single(Runs.Tasks).Status));
        Assert.Equal(2, Runs.WriteCount);
    }
}

/// <summary>The delay is checked at start-up: zero (write at once) up to a minute.</summary>
public sealed class ProgressRowOptionsTests
{
    [Theory]
    [InlineData("-00:00:01", false)]
    [InlineData("00:01:01", false)]
    [InlineData("00:00:00", true)]
    [InlineData("00:00:00.050", true)]
    [InlineData("00:01:00", true)]
    public void The_delay_must_be_between_zero_and_a_minute(string delay, bool valid)
    {
        var options = new PromptActors.Engine.PromptActorsOptions();
        options.Instances.ProgressRowDelay = TimeSpan.Parse(delay, System.Globalization.CultureInfo.InvariantCulture);
        var errors = options.Validate();
        if (valid)
            Assert.Empty(errors);
        else
            Assert.Contains(errors, e => e.StartsWith("PromptActors:Instances:ProgressRowDelay must be between", StringComparison.Ordinal));
    }
}
