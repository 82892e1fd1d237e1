using Akka.Actor;
using Akka.Cluster;
using PromptActors.Engine;
using PromptActors.Instances;
using PromptActors.Tests.Support;
using PromptActors.Variables;
using Xunit.Abstractions;

namespace PromptActors.Tests.Instances;

/// <summary>
/// In a cluster the engine sends a command again when an attempt goes unanswered (AskAttemptTimeout). Here one node
/// runs with cluster mode on, joined to itself, so those repeats happen.
/// </summary>
public sealed class RetryTests : EngineTestKit
{
    private static readonly TimeSpan Attempt = TimeSpan.FromMilliseconds(300);

    public RetryTests(ITestOutputHelper output) : base(output, o =>
    {
        o.Cluster.Enabled = true;
        o.Cluster.SeedNodes = ["akka.tcp://engine-test@127.0.0.1:4053"]; // required by validation; this node joins itself
        o.AskAttemptTimeout = Attempt;
    })
    {
        var cluster = Cluster.Get(Sys);
        cluster.Join(cluster.SelfAddress);
    }

    private long Resends => ((PromptExecutionEngine)Runtime.Engine).Resends;

    [Fact]
    public async Task A_repeated_start_that_meets_another_tenants_instance_is_refused_not_answered_with_its_view()
    {
        await SavePromptAsync("p", "You chat.");
        var gate = new TaskCompletionSource();
        Prompts.BeforeLoad = () => gate.Task; // the instance waits for its prompt and answers nobody meanwhile
        var other = new InstanceScope("u2", "o2", "p2");
        // Their start goes straight to the region, so every resend the engine counts is one of ours.
        Runtime.InstanceRegion.Tell(new StartInstance("chosen-id", "p", other), TestActor);
        await AwaitAssertAsync(() => Assert.Equal(1, Prompts.LoadCount));

        var mine = Engine.StartInstanceAsync(new StartInstanceRequest("p", U1, InstanceId: "chosen-id"));
        await AwaitAssertAsync(() => Assert.True(Resends > 0)); // our attempt went unanswered and was sent again
        gate.SetResult();

        Assert.Equal(other, ExpectMsg<InstanceView>().Scope);
        var error = await Assert.ThrowsAnyAsync<PromptActorsException>(() => mine);
        Assert.Equal(ErrorCodes.InstanceExists, error.Code);
    }

    [Fact]
    public async Task A_repeated_start_that_finds_its_own_instance_returns_it()
    {
        await SavePromptAsync("p", "You chat.");
        var gate = new TaskCompletionSource();
        Prompts.BeforeLoad = () => gate.Task;

        var start = Engine.StartInstanceAsync(new StartInstanceRequest("p", U1, InstanceId: "mine"));
        await AwaitAssertAsync(() => Assert.True(Resends > 0)); // as above: an attempt went unanswered
        gate.SetResult();

        var view = await start;
        Assert.Equal(U1, view.Scope);
        Assert.Equal("mine", view.InstanceId);
    }
}
