using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using PromptActors.Instances;
using Xunit.Abstractions;

namespace PromptActors.Tests.Instances;

/// <summary>
/// A command that reached an instance after it stopped itself (a journal failure) is sent through the region again, up
/// to three times, and its caller is told store_unavailable if every copy dies too, never left waiting for its timeout.
/// </summary>
public sealed class InstanceDeadLettersTests(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(
    ConfigurationFactory.ParseString("akka.actor.serialize-messages = on").WithFallback(PromptActorsConfig.Default), "dead-letters", output)
{
    [Fact]
    public async Task A_dead_command_is_sent_again_three_times_then_refused()
    {
        var region = CreateTestProbe();
        var listener = Sys.ActorOf(InstanceDeadLetters.Props(region));
        Started(listener);
        var stoppedInstance = CreateTestProbe();
        var command = new GetInstance("i-1");
        // A caller waiting on an ask, as the engine does: its temporary actor is the dead letter's sender.
        IActorRef caller = ActorRefs.Nobody;
        var answer = CreateTestProbe().Ref.Ask<object>((IActorRef temp) => { caller = temp; return (object)"not answered"; }, TimeSpan.FromSeconds(10), CancellationToken.None);
        AwaitCondition(() => !caller.IsNobody());

        Sys.EventStream.Publish(new DeadLetter(command, caller, stoppedInstance));
        region.ExpectMsg<GetInstance>(m => m.InstanceId == "i-1");
        Assert.Equal(caller, region.LastSender);
        Assert.False(answer.IsCompleted);

        // Twice more, a little later each time (a breaker that just let one trial call through has closed by then)…
        for (var i = 0; i < 2; i++)
        {
            Sys.EventStream.Publish(new DeadLetter(command, caller, stoppedInstance));
            region.ExpectMsg<GetInstance>(TimeSpan.FromSeconds(3));
            Assert.False(answer.IsCompleted);
        }

        // …then the caller is told, instead of waiting for its timeout.
        Sys.EventStream.Publish(new DeadLetter(command, caller, stoppedInstance));
        var refused = Assert.IsType<Rejected>(await answer);
        Assert.Equal(ErrorCodes.StoreUnavailable, refused.Code);
        region.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void In_a_cluster_a_fourth_dead_copy_is_left_to_the_engines_resend()
    {
        var region = CreateTestProbe();
        var listener = Sys.ActorOf(InstanceDeadLetters.Props(region, clustered: true));
        Started(listener);
        IActorRef caller = ActorRefs.Nobody;
        var answer = CreateTestProbe().Ref.Ask<object>((IActorRef temp) => { caller = temp; return (object)"not answered"; }, TimeSpan.FromSeconds(10), CancellationToken.None);
        AwaitCondition(() => !caller.IsNobody());

        for (var i = 0; i < 3; i++)
        {
            Sys.EventStream.Publish(new DeadLetter(new GetInstance("i-3"), caller, TestActor));
            region.ExpectMsg<GetInstance>(TimeSpan.FromSeconds(3));
        }
        Sys.EventStream.Publish(new DeadLetter(new GetInstance("i-3"), caller, TestActor));
        region.ExpectNoMsg(TimeSpan.FromMilliseconds(800));
        Assert.False(answer.IsCompleted);
    }

    [Fact]
    public void A_command_its_stopping_instance_already_refused_is_not_sent_on()
    {
        // The instance stopped with the command in a stash and told its caller store_unavailable ("nothing was changed"):
        // the dead letter that follows must not reach the next incarnation, which would do it after all.
        var region = CreateTestProbe();
        var listener = Sys.ActorOf(InstanceDeadLetters.Props(region));
        Started(listener);
        IActorRef caller = ActorRefs.Nobody;
        _ = CreateTestProbe().Ref.Ask<object>((IActorRef temp) => { caller = temp; return (object)"not answered"; }, TimeSpan.FromSeconds(10), CancellationToken.None);
        AwaitCondition(() => !caller.IsNobody());

        Sys.EventStream.Publish(new CommandRefused(caller, typeof(ExecuteMessage), "i-4"));
        Sys.EventStream.Publish(new DeadLetter(new ExecuteMessage("i-4", "hello", "r-1"), caller, TestActor));
        region.ExpectNoMsg(TimeSpan.FromMilliseconds(300));

        // The mark is used once: another command of the same caller that dies later is sent on as usual.
        Sys.EventStream.Publish(new DeadLetter(new ExecuteMessage("i-4", "hello", "r-1"), caller, TestActor));
        region.ExpectMsg<ExecuteMessage>(m => m.InstanceId == "i-4");
    }

    [Fact]
    public void Dead_letters_without_a_caller_or_of_other_messages_are_left_alone()
    {
        var region = CreateTestProbe();
        Started(Sys.ActorOf(InstanceDeadLetters.Props(region)));
        var target = CreateTestProbe();

        Sys.EventStream.Publish(new DeadLetter(new GetInstance("i-2"), ActorRefs.Nobody, target));
        Sys.EventStream.Publish(new DeadLetter("not a command", TestActor, target));
        Sys.EventStream.Publish(new DeadLetter(new GetInstance("i-2"), TestActor, target)); // a /system sender (a region's own)

        region.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
    }

    /// <summary>Once the listener answers, its PreStart (the event-stream subscription) has run.</summary>
    private void Started(IActorRef listener)
    {
        listener.Tell(new Identify(1), TestActor);
        ExpectMsg<ActorIdentity>();
    }
}
