using Akka.Actor;
using PromptActors.Tests.Support;
using PromptActors.Variables;
using Xunit.Abstractions;

namespace PromptActors.Tests.Prompts;

public sealed class ScopedVariablesTests(ITestOutputHelper output) : EngineTestKit(output)
{
    private IActorRef NewCache() => Sys.ActorOf(ScopedVariablesActor.Props(Variables, Clock, TimeSpan.FromMinutes(5)));

    [Fact]
    public async Task Scoped_variables_are_loaded_once_for_concurrent_callers()
    {
        await Variables.SetAsync(ScopeKind.User, "u1", new Dictionary<string, string> { ["user_name"] = "Ada" });
        await Variables.SetAsync(ScopeKind.Org, "o1", new Dictionary<string, string> { ["org_name"] = "Acme" });
        var release = new TaskCompletionSource();
        Variables.BeforeLoad = () => release.Task;
        var cache = NewCache();
        var probes = Enumerable.Range(0, 50).Select(_ => CreateTestProbe()).ToArray();

        foreach (var p in probes)
            cache.Tell(new GetScopedVariables(new InstanceScope("u1", "o1")), p.Ref);
        release.SetResult();

        foreach (var p in probes)
        {
            var values = p.ExpectMsg<ScopedVariableValues>();
            Assert.Equal("Ada", values.User["user_name"]);
            Assert.Equal("Acme", values.Org["org_name"]);
            Assert.Empty(values.Project);
        }
        Assert.Equal(1, Variables.LoadCount(ScopeKind.User, "u1"));
        Assert.Equal(1, Variables.LoadCount(ScopeKind.Org, "o1"));
    }

    [Fact]
    public async Task A_caller_after_an_invalidation_does_not_join_a_load_that_read_the_old_map()
    {
        await Variables.SetAsync(ScopeKind.User, "u1", new Dictionary<string, string> { ["v"] = "1" });
        var firstRead = new TaskCompletionSource();
        var reads = 0;
        Variables.AfterRead = () => Interlocked.Increment(ref reads) == 1 ? firstRead.Task : Task.CompletedTask;
        var cache = NewCache();
        var early = CreateTestProbe();
        var late = CreateTestProbe();

        cache.Tell(new GetScopedVariables(new InstanceScope("u1")), early.Ref);
        await AwaitAssertAsync(() => Assert.Equal(1, Volatile.Read(ref reads))); // that load holds v = 1
        await Variables.SetAsync(ScopeKind.User, "u1", new Dictionary<string, string> { ["v"] = "2" });
        cache.Tell(new InvalidateScopedVariables(ScopeKind.User, "u1")); // what a write through the engine sends
        cache.Tell(new GetScopedVariables(new InstanceScope("u1")), late.Ref);

        Assert.Equal("2", late.ExpectMsg<ScopedVariableValues>().User["v"]); // without waiting for the older load
        firstRead.SetResult();
        Assert.Equal("1", early.ExpectMsg<ScopedVariableValues>().User["v"]);
        cache.Tell(new GetScopedVariables(new InstanceScope("u1")), late.Ref);
        Assert.Equal("2", late.ExpectMsg<ScopedVariableValues>().User["v"]); // and the older load was not cached
        Assert.Equal(2, Variables.LoadCount(ScopeKind.User, "u1"));
    }

    [Fact]
    public async Task Scoped_variables_expire_after_the_ttl()
    {
        await Variables.SetAsync(ScopeKind.User, "u1", new Dictionary<string, string> { ["v"] = "1" });
        var cache = NewCache();
        cache.Tell(new GetScopedVariables(new InstanceScope("u1")), TestActor);
        ExpectMsg<ScopedVariableValues>();
        await Variables.SetAsync(ScopeKind.User, "u1", new Dictionary<string, string> { ["v"] = "2" });

        Clock.Advance(TimeSpan.FromMinutes(4));
        cache.Tell(new GetScopedVariables(new InstanceScope("u1")), TestActor);
        Assert.Equal("1", ExpectMsg<ScopedVariableValues>().User["v"]);

        Clock.Advance(TimeSpan.FromMinutes(2));
        cache.Tell(new GetScopedVariables(new InstanceScope("u1")), TestActor);
        Assert.Equal("2", ExpectMsg<ScopedVariableValues>().User["v"]);
        Assert.Equal(2, Variables.LoadCount(ScopeKind.User, "u1"));
    }

    [Fact]
    public async Task Writing_scope_variables_through_the_engine_invalidates_the_cache()
    {
        await SavePromptAsync("p", "Hello {{user_name}} from {{org_name}}");
        await Engine.SetScopeVariablesAsync(ScopeKind.User, "u1", new Dictionary<string, string> { ["user_name"] = "Ada" });
        await Engine.SetScopeVariablesAsync(ScopeKind.Org, "o1", new Dictionary<string, string> { ["org_name"] = "Acme" });
        var view = await StartAsync("p");
        await SendAsync(view.InstanceId);

        await Engine.SetScopeVariablesAsync(ScopeKind.Org, "o1", new Dictionary<string, string> { ["org_name"] = "Initech" });
        await SendAsync(view.InstanceId, "again");

        Assert.Equal("system: Hello Ada from Acme", Text(Model.Requests[0]).Split('\n')[0]);
        Assert.Equal("system: Hello Ada from Initech", Text(Model.Requests[1]).Split('\n')[0]);
        Assert.Equal("Initech", (await Engine.GetScopeVariablesAsync(ScopeKind.Org, "o1"))["org_name"]);
    }

    [Fact]
    public async Task Failing_scope_load_is_refused_with_store_unavailable_and_not_cached()
    {
        await SavePromptAsync("p", "x");
        Variables.FailLoadsWith = new InvalidOperationException("db down");
        await Refused<StoreUnavailableException>(() => StartAsync("p"));
        Variables.FailLoadsWith = null;
        await StartAsync("p");
    }

    [Fact]
    public async Task A_failed_request_is_refused_only_once_all_its_loads_have_ended()
    {
        await Variables.SetAsync(ScopeKind.Org, "o1", new Dictionary<string, string> { ["org_name"] = "Acme" });
        var orgLoad = new TaskCompletionSource();
        var loads = 0;
        Variables.BeforeLoad = () => Interlocked.Increment(ref loads) == 2 ? orgLoad.Task : Task.CompletedTask; // user, then org
        Variables.FailLoadsWith = new InvalidOperationException("db down");
        var cache = NewCache();
        var probe = CreateTestProbe();

        cache.Tell(new GetScopedVariables(new InstanceScope("u1", "o1")), probe.Ref);
        await AwaitAssertAsync(() => Assert.Equal(2, Volatile.Read(ref loads)));
        probe.ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // the user map failed, the org map is still loading
        Variables.FailLoadsWith = null;
        orgLoad.SetResult();
        Assert.Equal("db down", probe.ExpectMsg<ScopedVariablesUnavailable>().Reason);

        cache.Tell(new GetScopedVariables(new InstanceScope("u1", "o1")), probe.Ref); // asks again: a load of its own
        Assert.Equal("Acme", probe.ExpectMsg<ScopedVariableValues>().Org["org_name"]);
        Assert.Equal(2, Variables.LoadCount(ScopeKind.User, "u1"));
        Assert.Equal(1, Variables.LoadCount(ScopeKind.Org, "o1")); // the org map loaded for the refused request was kept
    }

    [Fact]
    public async Task Bad_scope_writes_are_refused()
    {
        await Refused<ValidationFailedException>(() => Engine.SetScopeVariablesAsync(ScopeKind.User, "u 1", new Dictionary<string, string>()));
        await Refused<ValidationFailedException>(() => Engine.SetScopeVariablesAsync(ScopeKind.User, "u1", new Dictionary<string, string> { ["no good"] = "x" }));
        Assert.Empty(await Engine.GetScopeVariablesAsync(ScopeKind.User, "u1"));
    }
}
