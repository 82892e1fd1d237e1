using Akka.Actor;
using PromptActors.Instances;
using PromptActors.Tests.Support;
using Xunit.Abstractions;
using PromptActors.Streaming;

namespace PromptActors.Tests.Instances;

/// <summary>Readers that subscribe to an idle instance and leave again must not keep it in memory.</summary>
public sealed class IdleSubscriberTests(ITestOutputHelper output)
    : EngineTestKit(output, o => o.Instances.IdlePassivation = TimeSpan.FromMilliseconds(500))
{
    [Fact]
    public async Task An_idle_instance_whose_stream_readers_all_left_is_passivated()
    {
        await SavePromptAsync("p", "You chat.");
        var view = await StartAsync("p"); // no task yet: a subscriber waits for the next one
        var entity = await Sys.ActorSelection($"/system/sharding/{PromptActorsConfig.ShardTypeName}/*/{view.InstanceId}")
            .ResolveOne(TimeSpan.FromSeconds(3));
        Watch(entity);

        for (var i = 0; i < 20; i++)
        {
            Runtime.InstanceRegion.Tell(new SubscribeReplyStream(view.InstanceId), TestActor);
            var stream = ExpectMsg<LocalReplyStream>();
            Assert.Null(stream.TaskId);
            stream.Events.Writer.TryComplete(); // what the engine's reader does when its caller goes away
        }

        ExpectTerminated(entity, TimeSpan.FromSeconds(10)); // idle passivation is no longer held off
        Assert.Equal(InstanceStatus.Ready, (await Engine.GetInstanceAsync(view.InstanceId)).Status); // and it comes back
    }

    [Fact]
    public async Task An_idle_instance_with_a_reader_still_waiting_stays()
    {
        await SavePromptAsync("p", "You chat.");
        var view = await StartAsync("p");
        var entity = await Sys.ActorSelection($"/system/sharding/{PromptActorsConfig.ShardTypeName}/*/{view.InstanceId}")
            .ResolveOne(TimeSpan.FromSeconds(3));
        Watch(entity);

        Runtime.InstanceRegion.Tell(new SubscribeReplyStream(view.InstanceId), TestActor);
        ExpectMsg<LocalReplyStream>();

        ExpectNoMsg(TimeSpan.FromSeconds(2)); // four passivation periods: the waiting reader keeps it
    }
}
