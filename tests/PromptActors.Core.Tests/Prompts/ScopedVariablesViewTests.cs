using Akka.Actor;
using PromptActors.Tests.Support;
using PromptActors.Variables;
using Xunit.Abstractions;

namespace PromptActors.Tests.Prompts;

/// <summary>
/// The answers the scoped-variable cache publishes for instances to read without asking: what the actor would answer,
/// gone on an invalidation (from this node's save at once), never a load an invalidation overtook, and not past the TTL.
/// </summary>
public sealed class ScopedVariablesViewTests(ITestOutputHelper output) : EngineTestKit(output)
{
    private static readonly InstanceScope Scope = new("u1", "o1");

    private (IActorRef Cache, ScopedVariablesView View) NewCache()
    {
        var view = new ScopedVariablesView(Clock);
        return (Sys.ActorOf(ScopedVariablesActor.Props(Variables, Clock, TimeSpan.FromMinutes(5), view)), view);
    }

    private ScopedVariableValues Ask(IActorRef cache)
    {
        var probe = CreateTestProbe();
        cache.Tell(new GetScopedVariables(Scope), probe.Ref);
        return probe.ExpectMsg<ScopedVariableValues>();
    }

    [Fact]
    public async Task An_answer_is_published_until_its_oldest_value_expires()
    {
        await Variables.SetAsync(ScopeKind.User, "u1", new Dictionary<string, string> { ["v"] = "1" });
        var (cache, view) = NewCache();
        Assert.False(view.TryGet(Scope, out _));

        Ask(cache);
        Assert.True(view.TryGet(Scope, out var published));
        Assert.Equal("1", published.User["v"]);
        Assert.False(view.TryGet(new InstanceScope("u1"), out _)); // another scope was not asked for

        Clock.Advance(TimeSpan.FromMinutes(5));
        Assert.False(view.TryGet(Scope, out _)); // as the actor would reload it now
    }

    [Fact]
    public async Task An_invalidation_clears_it_and_a_load_it_overtook_is_not_published()
    {
        await Variables.SetAsync(ScopeKind.User, "u1", new Dictionary<string, string> { ["v"] = "1" });
        var (cache, view) = NewCache();
        Ask(cache);
        var release = new TaskCompletionSource();
        Variables.BeforeLoad = () => release.Task;
        cache.Tell(new InvalidateScopedVariables(ScopeKind.User, "u1"));
        await AwaitAssertAsync(() => Assert.False(view.TryGet(Scope, out _)));

        // A load starts, then this node saves (the engine invalidates the view at once, the actor hears of it later).
        var probe = CreateTestProbe();
        cache.Tell(new GetScopedVariables(Scope), probe.Ref);
        await AwaitAssertAsync(() => Assert.Equal(2, Variables.LoadCount(ScopeKind.User, "u1")));
        view.Invalidate(new ScopeKey(ScopeKind.User, "u1"));
        release.SetResult();
        probe.ExpectMsg<ScopedVariableValues>();
        Assert.False(view.TryGet(Scope, out _)); // that load may have read the map the save replaced

        Variables.BeforeLoad = null;
        cache.Tell(new InvalidateScopedVariables(ScopeKind.User, "u1"));
        Ask(cache);
        Assert.True(view.TryGet(Scope, out _)); // a load of the current generation is published again

        // Another scope's save forgets every answer, but this scope's maps are still current: the next answer is published.
        cache.Tell(new InvalidateScopedVariables(ScopeKind.Org, "o9"));
        await AwaitAssertAsync(() => Assert.False(view.TryGet(Scope, out _)));
        Ask(cache);
        Assert.True(view.TryGet(Scope, out _));
        Assert.Equal(3, Variables.LoadCount(ScopeKind.User, "u1")); // from the cache: nothing was loaded again
    }

    [Fact]
    public async Task A_save_through_the_engine_is_read_by_the_next_turn_on_this_node()
    {
        await SavePromptAsync("greet", "Hello {{name}}");
        await Engine.SetScopeVariablesAsync(ScopeKind.User, "u1", new Dictionary<string, string> { ["name"] = "Ada" });
        var id = (await StartAsync("greet", new PromptActors.Instances.ExecutionConfig(AllowChat: true))).InstanceId;
        Assert.IsType<PromptActors.Streaming.ReplyCompleted>(await SendAsync(id, "hi"));

        await Engine.SetScopeVariablesAsync(ScopeKind.User, "u1", new Dictionary<string, string> { ["name"] = "Grace" });
        Assert.IsType<PromptActors.Streaming.ReplyCompleted>(await SendAsync(id, "again"));

        Assert.Equal("Hello Ada", Model.Requests[0][0].Text);
        Assert.Equal("Hello Grace", Model.Requests[1][0].Text); // not the answer published before the save
    }
}
