using Akka.Actor;
using PromptActors.Engine;
using PromptActors.Instances;
using PromptActors.Streaming;
using PromptActors.Tests.Support;
using Xunit.Abstractions;

namespace PromptActors.Tests.Instances;

/// <summary>
/// The engine sends commands to a running local instance directly (InstanceDirectory): the directory lists exactly the
/// running incarnations, and a command that reaches an incarnation that has stopped still reaches the next one.
/// </summary>
public sealed class InstanceDirectoryTests(ITestOutputHelper output)
    : EngineTestKit(output, o => o.Instances.IdlePassivation = TimeSpan.FromMilliseconds(300))
{
    private InstanceDirectory Directory => DirectoryLookups.Of(Sys);

    private Task<IActorRef> EntityAsync(string instanceId) => DirectoryLookups.EntityAsync(Sys, instanceId);

    [Fact]
    public async Task A_running_instance_is_listed_until_it_passivates_and_its_next_incarnation_is_listed_instead()
    {
        await SavePromptAsync("p", "You chat.");
        var view = await StartAsync("p");
        var entity = await EntityAsync(view.InstanceId);
        Assert.True(Directory.TryGet(view.InstanceId, out var listed));
        Assert.Equal(entity, listed);

        Watch(entity);
        ExpectTerminated(entity, TimeSpan.FromSeconds(10)); // idle passivation
        Assert.False(Directory.TryGet(view.InstanceId, out _));

        Assert.IsType<ReplyCompleted>(await SendAsync(view.InstanceId, "hello")); // through the region: a new incarnation
        Assert.True(Directory.TryGet(view.InstanceId, out var again));
        Assert.NotEqual(entity, again);
        Assert.Equal(again, await EntityAsync(view.InstanceId));
    }
}

/// <summary>As <see cref="InstanceDirectoryTests"/>, with instances that do not passivate on their own during a test.</summary>
public sealed class StaleInstanceDirectoryTests(ITestOutputHelper output) : EngineTestKit(output)
{
    private InstanceDirectory Directory => DirectoryLookups.Of(Sys);

    private Task<IActorRef> EntityAsync(string instanceId) => DirectoryLookups.EntityAsync(Sys, instanceId);

    [Fact]
    public async Task A_command_sent_to_an_incarnation_that_has_stopped_reaches_the_next_one()
    {
        await SavePromptAsync("p", "You chat.");
        var view = await StartAsync("p");
        Assert.IsType<ReplyCompleted>(await SendAsync(view.InstanceId, "one"));
        var entity = await EntityAsync(view.InstanceId);
        Watch(entity);
        entity.Tell(StopInstance.Instance); // idle: it stops at once
        ExpectTerminated(entity);
        // The engine read the directory just before the stop: its command goes to the stopped incarnation, becomes a
        // dead letter, and is sent on through the region.
        Directory.Register(view.InstanceId, entity);

        Assert.IsType<ReplyCompleted>(await SendAsync(view.InstanceId, "two"));
        var history = await Engine.GetHistoryAsync(view.InstanceId);
        Assert.Equal(2, history.State.TaskCount);
        Assert.True(Directory.TryGet(view.InstanceId, out var next));
        Assert.NotEqual(entity, next);
    }
}

/// <summary>What both directory test classes look up: the node's directory and an instance's entity actor.</summary>
internal static class DirectoryLookups
{
    public static InstanceDirectory Of(ActorSystem system) => PromptActorsNode.Get(system).Instances;

    public static Task<IActorRef> EntityAsync(ActorSystem system, string instanceId) =>
        system.ActorSelection($"/system/sharding/{PromptActorsConfig.ShardTypeName}/*/{instanceId}").ResolveOne(TimeSpan.FromSeconds(3));
}
