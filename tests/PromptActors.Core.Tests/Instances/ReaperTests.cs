using Akka.Actor;
using PromptActors.Instances;
using PromptActors.Tests.Support;
using Xunit.Abstractions;
using PromptActors.Streaming;

namespace PromptActors.Tests.Instances;

public sealed class ReaperTests(ITestOutputHelper output) : EngineTestKit(output)
{
    private async Task<string> CompletedInstanceAsync(bool retain = false, bool allowChat = true)
    {
        var view = await StartAsync("p", new ExecutionConfig(AllowChat: allowChat), retain: retain);
        await SendAsync(view.InstanceId);
        await AwaitAssertAsync(async () =>
        {
            var state = await Runtime.Reaper.Ask<ReaperState>(GetReaperState.Instance);
            Assert.Contains(view.InstanceId, state.CompletedInstanceIds);
        });
        return view.InstanceId;
    }

    [Fact]
    public async Task Completed_instance_is_reaped_after_30_minutes()
    {
        await SavePromptAsync("p", "x", "Hi");
        var id = await CompletedInstanceAsync();

        Clock.Advance(TimeSpan.FromMinutes(29));
        Assert.Equal(InstanceStatus.Completed, (await Engine.GetInstanceAsync(id)).Status);

        Clock.Advance(TimeSpan.FromMinutes(2)); // the sweep timer runs on the same (fake) clock
        await AwaitAssertAsync(() => Refused<InstanceExpiredException>(() => Engine.GetInstanceAsync(id)));
        await Refused<InstanceExpiredException>(() => Engine.ExecuteMessageAsync(id, "hello?"));
        await Refused<InstanceExpiredException>(() => Engine.UpdateVariablesAsync(id, new Dictionary<string, string> { ["a"] = "b" }));
        await Refused<InstanceExpiredException>(() => Engine.StartInstanceAsync(new PromptActors.Engine.StartInstanceRequest("p", U1, InstanceId: id)));
        await StopEntityAsync(id); // the tombstone survives recovery
        await Refused<InstanceExpiredException>(() => Engine.GetInstanceAsync(id));
        Assert.Single(Runs.Tasks); // run rows stay
    }

    [Fact]
    public async Task Instance_that_chats_again_is_not_reaped_on_its_old_completion()
    {
        await SavePromptAsync("p", "x", "Hi");
        var id = await CompletedInstanceAsync();
        Clock.Advance(TimeSpan.FromMinutes(20));
        await SendAsync(id, "still here");
        Clock.Advance(TimeSpan.FromMinutes(20)); // 40 minutes after the first reply, 20 after the second
        Assert.Equal(InstanceStatus.Completed, (await Engine.GetInstanceAsync(id)).Status);
        Clock.Advance(TimeSpan.FromMinutes(11));
        await AwaitAssertAsync(() => Refused<InstanceExpiredException>(() => Engine.GetInstanceAsync(id)));
    }

    [Fact]
    public async Task Oldest_one_shot_instances_beyond_50_per_node_are_reaped_first()
    {
        await SavePromptAsync("p", "x", "Hi");
        var ids = new List<string>();
        for (var i = 0; i < 52; i++)
        {
            ids.Add(await CompletedInstanceAsync(allowChat: false));
            Clock.Advance(TimeSpan.FromSeconds(1));
        }

        await AwaitAssertAsync(() => Refused<InstanceExpiredException>(() => Engine.GetInstanceAsync(ids[0])));
        await AwaitAssertAsync(() => Refused<InstanceExpiredException>(() => Engine.GetInstanceAsync(ids[1])));
        foreach (var id in ids.Skip(2))
            Assert.Equal(InstanceStatus.Completed, (await Engine.GetInstanceAsync(id)).Status);
        var state = await Runtime.Reaper.Ask<ReaperState>(GetReaperState.Instance);
        Assert.Equal(50, state.CompletedInstanceIds.Count);
        Assert.Empty(state.PassivatedInstanceIds!);
    }

    [Fact]
    public async Task Conversations_beyond_50_per_node_leave_memory_but_go_on_and_are_reaped_when_their_time_is_up()
    {
        await SavePromptAsync("p", "x", "Hi");
        var ids = new List<string>();
        for (var i = 0; i < 52; i++)
        {
            ids.Add(await CompletedInstanceAsync());
            Clock.Advance(TimeSpan.FromSeconds(1));
        }

        // The two oldest are passivated, not reaped: still on the reaper's list, no longer in memory.
        await AwaitAssertAsync(async () =>
        {
            var state = await Runtime.Reaper.Ask<ReaperState>(GetReaperState.Instance);
            Assert.Equal(50, state.CompletedInstanceIds.Count);
            Assert.Equal(ids.Take(2), state.PassivatedInstanceIds!);
        });
        var entity = $"/system/sharding/{PromptActorsConfig.ShardTypeName}/*/{ids[0]}";
        await AwaitAssertAsync(async () =>
            await Assert.ThrowsAsync<ActorNotFoundException>(() => Sys.ActorSelection(entity).ResolveOne(TimeSpan.FromSeconds(1))));

        // A passivated conversation goes on where it was (rehydrated from its journal).
        Assert.IsType<ReplyCompleted>(await SendAsync(ids[0], "still talking"));
        Assert.Equal(2, (await Engine.GetInstanceAsync(ids[0])).Conversation.Count(m => m.Role == PromptActors.Prompts.MessageRole.Assistant));

        // The other one is reaped once it has been completed for the TTL, although it is not in memory.
        Clock.Advance(TimeSpan.FromMinutes(30));
        await AwaitAssertAsync(() => Refused<InstanceExpiredException>(() => Engine.GetInstanceAsync(ids[1])));
    }

    [Fact]
    public async Task Retained_instance_is_only_passivated_and_comes_back_on_the_next_command()
    {
        await SavePromptAsync("p", "x", "Hi");
        var id = await CompletedInstanceAsync(retain: true);
        var entity = await Sys.ActorSelection($"/system/sharding/{PromptActorsConfig.ShardTypeName}/*/{id}").ResolveOne(TimeSpan.FromSeconds(3));
        var probe = CreateTestProbe();
        probe.Watch(entity);

        Clock.Advance(TimeSpan.FromMinutes(31));
        probe.ExpectTerminated(entity); // passivated

        var view = await Engine.GetInstanceAsync(id); // rehydrated from its journal
        Assert.Equal(InstanceStatus.Completed, view.Status);
        Assert.Single(view.Conversation);
        Assert.IsType<ReplyCompleted>(await SendAsync(id, "still mine"));
    }

    [Fact]
    public async Task Cleanup_removes_the_instance_for_good_but_keeps_its_run()
    {
        await SavePromptAsync("p", "x", "Hi");
        var view = await StartAsync("p");
        var accepted = await Engine.ExecuteMessageAsync(view.InstanceId);
        await Engine.WaitForReplyAsync(view.InstanceId);
        await AwaitAssertAsync(() => Assert.Single(Runs.Tasks));

        await Engine.CleanupAsync(view.InstanceId);

        await Refused<InstanceExpiredException>(() => Engine.GetInstanceAsync(view.InstanceId));
        Assert.NotNull(await Engine.GetRunAsync(accepted.RunId!));
    }
}
