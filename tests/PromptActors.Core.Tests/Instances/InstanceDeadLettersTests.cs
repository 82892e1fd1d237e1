using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using PromptActors.Instances;
using Xunit.Abstractions;

namespace PromptActors.Tests.Instances;

/// <summary>
/// A command that reached an instance after it stopped itself (a journal failure) is sent through the region once more,
/// and its caller is told store_unavailable if that copy dies too, never left waiting for its timeout.
/// </summary>
public sealed class InstanceDeadLettersTests(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(
    ConfigurationFactory.ParseString("akka.actor.serialize-messages = on").WithFallback(PromptActorsConfig.Default), "dead-letters", output)
{
    [Fact]
    public void A_dead_command_is_sent_again_once_then_refused()
    {
        var region = CreateTestProbe();
        var caller = CreateTestProbe();
        var listener = Sys.ActorOf(InstanceDeadLetters.Props(region));
        var stoppedInstance = CreateTestProbe();
        var command = new GetInstance("i-1");
        Started(listener);

        Sys.EventStream.Publish(new DeadLetter(command, caller, stoppedInstance));
        region.ExpectMsg<GetInstance>(m => m.InstanceId == "i-1");
        Assert.Equal(caller.Ref, region.LastSender);

        Sys.EventStream.Publish(new DeadLetter(command, caller, stoppedInstance));
        var refused = caller.ExpectMsg<Rejected>();
        Assert.Equal(ErrorCodes.StoreUnavailable, refused.Code);
        region.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        Sys.Stop(listener);
    }

    [Fact]
    public void Dead_letters_without_a_caller_or_of_other_messages_are_left_alone()
    {
        var region = CreateTestProbe();
        Started(Sys.ActorOf(InstanceDeadLetters.Props(region)));
        var target = CreateTestProbe();

        Sys.EventStream.Publish(new DeadLetter(new GetInstance("i-2"), ActorRefs.Nobody, target));
        Sys.EventStream.Publish(new DeadLetter("not a command", TestActor, target));

        region.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
    }

    /// <summary>Once the listener answers, its PreStart (the event-stream subscription) has run.</summary>
    private void Started(IActorRef listener)
    {
        listener.Tell(new Identify(1), TestActor);
        ExpectMsg<ActorIdentity>();
    }
}
