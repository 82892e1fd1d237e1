using Akka.Actor;
using PromptActors.Instances;
using PromptActors.Tests.Support;
using Xunit.Abstractions;

namespace PromptActors.Tests.Instances;

public sealed class ReaperTests(ITestOutputHelper output) : EngineTestKit(output)
{
    private async Task<string> CompletedInstanceAsync(bool retain = false)
    {
        var view = await StartAsync("p", retain: retain);
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
    public async Task Oldest_completed_instances_beyond_50_per_node_are_reaped_first()
    {
        await SavePromptAsync("p", "x", "Hi");
        var ids = new List<string>();
        for (var i = 0; i < 52; i++)
        {
            ids.Add(await CompletedInstanceAsync());
            Clock.Advance(TimeSpan.FromSeconds(1));
        }

        await AwaitAssertAsync(() => Refused<InstanceExpiredException>(() => Engine.GetInstanceAsync(ids[0])));
        await AwaitAssertAsync(() => Refused<InstanceExpiredException>(() => Engine.GetInstanceAsync(ids[1])));
        foreach (var id in ids.Skip(2))
            Assert.Equal(InstanceStatus.Completed, (await Engine.GetInstanceAsync(id)).Status);
        var state = await Runtime.Reaper.Ask<ReaperState>(GetReaperState.Instance);
        Assert.Equal(50, state.CompletedInstanceIds.Count);
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
