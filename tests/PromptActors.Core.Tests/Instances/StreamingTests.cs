using PromptActors.Instances;
using PromptActors.Testing;
using PromptActors.Tests.Support;
using Xunit.Abstractions;
using PromptActors.Streaming;

namespace PromptActors.Tests.Instances;

public sealed class StreamingTests(ITestOutputHelper output) : EngineTestKit(output, o => o.Instances.SubscriberBuffer = 16)
{
    private static async Task<List<ReplyEvent>> Collect(IAsyncEnumerable<ReplyEvent> stream)
    {
        var events = new List<ReplyEvent>();
        await foreach (var e in stream)
            events.Add(e);
        return events;
    }

    [Fact]
    public async Task Subscribers_get_every_chunk_in_order_then_the_completed_event()
    {
        await SavePromptAsync("p", "x", "Hi");
        var view = await StartAsync("p");
        var gate = new TaskCompletionSource();
        Model.Enqueue(ScriptedReply.Text("The ", "quick ", "fox") with { Gate = gate.Task });
        await Engine.ExecuteMessageAsync(view.InstanceId);

        var early = Collect(Engine.StreamAsync(view.InstanceId));
        var alsoEarly = Collect(Engine.StreamAsync(view.InstanceId));
        gate.SetResult();
        var events = await early;
        var late = await Collect(Engine.StreamAsync(view.InstanceId)); // after the end: a replay
        var resumed = await Collect(Engine.StreamAsync(view.InstanceId, fromIndex: 2));

        Assert.Equal(new[] { "The ", "quick ", "fox" }, events.OfType<ReplyChunk>().Select(c => c.Text));
        Assert.Equal(new long[] { 0, 1, 2 }, events.OfType<ReplyChunk>().Select(c => c.Index));
        Assert.Equal("The quick fox", Assert.IsType<ReplyCompleted>(events[^1]).Text);
        Assert.Equal(events, await alsoEarly);
        Assert.Equal(events, late);
        Assert.Equal(new[] { "fox" }, resumed.OfType<ReplyChunk>().Select(c => c.Text));
        Assert.IsType<ReplyCompleted>(resumed[^1]);
    }

    [Fact]
    public async Task A_streamed_message_is_accepted_and_subscribed_in_one_step_from_its_first_chunk()
    {
        await SavePromptAsync("p", "x", "Hi");
        var view = await StartAsync("p");
        Model.Enqueue(ScriptedReply.Text("one ", "two ", "three"));

        var streamed = await Engine.ExecuteMessageStreamAsync(view.InstanceId);
        var events = await Collect(streamed.Events);

        Assert.Equal(new[] { "one ", "two ", "three" }, events.OfType<ReplyChunk>().Select(c => c.Text));
        Assert.All(events, e => Assert.Equal(streamed.Accepted.TaskId, e.TaskId));
        Assert.Equal("one two three", Assert.IsType<ReplyCompleted>(events[^1]).Text);
        Assert.NotNull(streamed.Accepted.RunId);

        // A refusal comes before any event: the instance is now past its one-shot turn and the input is required.
        Model.Enqueue(ScriptedReply.Text("never"));
        await Refused<ValidationFailedException>(() => Engine.ExecuteMessageStreamAsync(view.InstanceId));
        await Refused<InstanceNotFoundException>(() => Engine.OpenStreamAsync("nobody-here"));
        var second = await Engine.ExecuteMessageStreamAsync(view.InstanceId, "more");
        Assert.Equal("never", Assert.IsType<ReplyCompleted>((await Collect(second.Events))[^1]).Text);
    }

    [Fact]
    public async Task Resuming_names_the_task_so_a_reconnect_across_tasks_gets_the_new_reply_whole()
    {
        await SavePromptAsync("p", "x", "Hi");
        var view = await StartAsync("p");
        Model.Enqueue(ScriptedReply.Text("one ", "two ", "three"));
        var first = (await Engine.ExecuteMessageAsync(view.InstanceId)).TaskId;
        await Engine.WaitForReplyAsync(view.InstanceId);

        var sameTask = await Collect(Engine.ResumeStreamAsync(view.InstanceId, first, afterIndex: 1));
        Assert.Equal(new[] { "three" }, sameTask.OfType<ReplyChunk>().Select(c => c.Text));

        Model.Enqueue(ScriptedReply.Text("four ", "five ", "six"));
        await Engine.ExecuteMessageAsync(view.InstanceId, "more");
        await Engine.WaitForReplyAsync(view.InstanceId);
        var acrossTasks = await Collect(Engine.ResumeStreamAsync(view.InstanceId, first, afterIndex: 1));

        Assert.Equal(new[] { "four ", "five ", "six" }, acrossTasks.OfType<ReplyChunk>().Select(c => c.Text));
        Assert.Equal("four five six", Assert.IsType<ReplyCompleted>(acrossTasks[^1]).Text);
    }

    [Fact]
    public async Task Resuming_a_task_the_instance_does_not_know_is_refused_instead_of_answered_with_another_reply()
    {
        await SavePromptAsync("p", "x", "Hi");
        var view = await StartAsync("p");
        Model.Enqueue(ScriptedReply.Text("one ", "two"));
        await Engine.ExecuteMessageAsync(view.InstanceId);
        await Engine.WaitForReplyAsync(view.InstanceId);

        var refused = await Assert.ThrowsAsync<TaskNotFoundException>(() => Collect(Engine.ResumeStreamAsync(view.InstanceId, "never-ran", afterIndex: 0)));
        Assert.Equal(ErrorCodes.TaskNotFound, refused.Code);
    }

    [Fact]
    public async Task Subscriber_of_an_idle_instance_receives_the_next_task()
    {
        await SavePromptAsync("p", "x", "Hi");
        var view = await StartAsync("p");
        Model.Enqueue(ScriptedReply.Text("a", "b"));

        var stream = Collect(Engine.StreamAsync(view.InstanceId));
        await AwaitAssertAsync(() => Assert.False(stream.IsCompleted));
        await Engine.ExecuteMessageAsync(view.InstanceId);

        var events = await stream.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("ab", Assert.IsType<ReplyCompleted>(events[^1]).Text);
    }

    [Fact]
    public async Task Failed_task_ends_the_stream_with_an_error_event()
    {
        await SavePromptAsync("p", "x", "Hi");
        var view = await StartAsync("p");
        Model.Enqueue(ScriptedReply.Text("a") with { FailBeforeFirstChunk = new InvalidOperationException("model refused") });
        await Engine.ExecuteMessageAsync(view.InstanceId);

        var events = await Collect(Engine.StreamAsync(view.InstanceId));
        var failed = Assert.IsType<ReplyFailed>(Assert.Single(events));
        Assert.Equal(ErrorCodes.ProviderError, failed.Code);
        Assert.Contains("model refused", failed.Detail);
    }

    [Fact]
    public async Task Time_to_first_token_and_total_time_are_measured_with_the_injected_clock()
    {
        await SavePromptAsync("p", "x", "Hi");
        var view = await StartAsync("p");
        var release = Enumerable.Range(0, 3).Select(_ => new TaskCompletionSource()).ToArray();
        Model.Enqueue(ScriptedReply.Text("a", "b", "c") with { BeforeChunk = (i, ct) => release[i].Task.WaitAsync(ct) });
        await Engine.ExecuteMessageAsync(view.InstanceId);
        var events = Collect(Engine.StreamAsync(view.InstanceId));
        for (var i = 0; i < 3; i++)
        {
            Clock.Advance(TimeSpan.FromMilliseconds(100)); // the model "thinks" for 100 ms of fake time per chunk
            release[i].SetResult();
            if (i < 2)
                await AwaitAssertAsync(async () => Assert.Equal(i + 1, ((await Engine.GetInstanceAsync(view.InstanceId)).StreamingText ?? "").Length));
        }
        var completed = Assert.IsType<ReplyCompleted>((await events)[^1]);

        Assert.Equal(100, completed.Stats.TimeToFirstTokenMs);
        Assert.Equal(300, completed.Stats.TotalTimeMs);
        var after = await Engine.GetInstanceAsync(view.InstanceId);
        Assert.Equal(completed.Stats, after.Execution.LastMessageStats);
    }

    [Fact]
    public async Task A_subscriber_that_does_not_read_is_dropped_at_its_bound_while_the_task_and_the_others_go_on()
    {
        await SavePromptAsync("p", "x", "Hi");
        var view = await StartAsync("p");
        var words = Enumerable.Range(0, 500).Select(i => $"w{i} ").ToArray();
        // The model streams no faster than the reading subscriber reads, so only the idle one can fall behind.
        var read = new SemaphoreSlim(0);
        Model.Enqueue(ScriptedReply.Text(words) with { BeforeChunk = (i, ct) => i == 0 ? Task.CompletedTask : read.WaitAsync(ct) });
        await Engine.ExecuteMessageAsync(view.InstanceId);

        var idle = Engine.StreamAsync(view.InstanceId).GetAsyncEnumerator();
        Assert.True(await idle.MoveNextAsync()); // one event, then nothing until the reply is over
        var reader = new List<ReplyEvent>();
        await foreach (var e in Engine.StreamAsync(view.InstanceId))
        {
            reader.Add(e);
            read.Release();
        }

        Assert.Equal(string.Concat(words), Assert.IsType<ReplyCompleted>(reader[^1]).Text);
        Assert.Equal(string.Concat(words), string.Concat(reader.OfType<ReplyChunk>().Select(c => c.Text)));
        var seen = new List<ReplyEvent> { idle.Current };
        while (await idle.MoveNextAsync())
            seen.Add(idle.Current);
        var dropped = Assert.IsType<ReplyFailed>(seen[^1]);
        Assert.True(dropped.Code == "subscriber_too_slow", $"{dropped.Code}: {dropped.Detail}");
        var got = seen.OfType<ReplyChunk>().ToList();
        Assert.True(got.Count < words.Length, $"the idle subscriber got {got.Count} chunks");
        Assert.Equal(Enumerable.Range(0, got.Count).Select(i => (long)i), got.Select(c => c.Index)); // a prefix, in order
        Assert.Equal(InstanceStatus.Completed, (await Engine.GetInstanceAsync(view.InstanceId)).Status);
    }
}
