using Akka.Actor;
using PromptActors.Engine;
using PromptActors.Instances;
using PromptActors.Prompts;
using PromptActors.Testing;
using PromptActors.Tests.Support;
using Xunit.Abstractions;

namespace PromptActors.Tests.Prompts;

public sealed class PromptCacheTests(ITestOutputHelper output) : EngineTestKit(output)
{
    private static PromptDefinition Definition(string id, string text) =>
        new(id, id, [new PromptMessage(MessageRole.System, text)], Settings: new PromptSettings("scripted"));

    [Fact]
    public async Task Prompt_is_fetched_once_for_1000_concurrent_starts()
    {
        await Prompts.SaveAsync(Definition("hot", "x")); // straight into the store: the cache has never seen it
        var release = new TaskCompletionSource();
        Prompts.BeforeLoad = () => release.Task;

        var starts = Enumerable.Range(0, 1000)
            .Select(i => Engine.StartInstanceAsync(new StartInstanceRequest("hot", U1, InstanceId: $"hot-{i}")))
            .ToArray();
        await AwaitAssertAsync(() => Assert.Equal(1, Prompts.LoadCount));
        release.SetResult();
        var views = await Task.WhenAll(starts);

        Assert.Equal(1000, views.Select(v => v.InstanceId).Distinct().Count());
        Assert.All(views, v => Assert.Equal(InstanceStatus.Ready, v.Status));
        Assert.Equal(1, Prompts.LoadCount);
    }

    [Fact]
    public async Task Concurrent_callers_of_the_cache_actor_share_one_load_and_all_get_the_reply()
    {
        await Prompts.SaveAsync(Definition("p", "x"));
        var release = new TaskCompletionSource();
        Prompts.BeforeLoad = () => release.Task;
        var cache = Sys.ActorOf(PromptCacheActor.Props(Prompts));
        var probes = Enumerable.Range(0, 20).Select(_ => CreateTestProbe()).ToArray();

        foreach (var p in probes)
            cache.Tell(new GetPrompt("p"), p.Ref);
        release.SetResult();

        foreach (var p in probes)
            Assert.Equal("p", p.ExpectMsg<PromptFound>().Prompt.Id);
        Assert.Equal(1, Prompts.LoadCount);
        cache.Tell(new GetPrompt("p"), probes[0].Ref);
        probes[0].ExpectMsg<PromptFound>();
        Assert.Equal(1, Prompts.LoadCount);
    }

    [Fact]
    public async Task A_caller_after_an_invalidation_does_not_join_a_load_that_read_the_old_version()
    {
        await Prompts.SaveAsync(Definition("p", "version one"));
        var firstRead = new TaskCompletionSource();
        var reads = 0;
        Prompts.AfterRead = () => Interlocked.Increment(ref reads) == 1 ? firstRead.Task : Task.CompletedTask;
        var cache = Sys.ActorOf(PromptCacheActor.Props(Prompts, Clock, TimeSpan.FromMinutes(1)));
        var early = CreateTestProbe();
        var late = CreateTestProbe();

        cache.Tell(new GetPrompt("p"), early.Ref);
        await AwaitAssertAsync(() => Assert.Equal(1, Volatile.Read(ref reads))); // that load holds version one
        await Prompts.SaveAsync(Definition("p", "version two"));
        cache.Tell(new InvalidatePrompt("p")); // what a save through the engine sends
        cache.Tell(new GetPrompt("p"), late.Ref);

        Assert.Equal(2, late.ExpectMsg<PromptFound>().Prompt.Version); // without waiting for the older load
        firstRead.SetResult();
        Assert.Equal(1, early.ExpectMsg<PromptFound>().Prompt.Version);
        cache.Tell(new GetPrompt("p"), late.Ref);
        Assert.Equal(2, late.ExpectMsg<PromptFound>().Prompt.Version); // and the older load was not cached
        Assert.Equal(2, Prompts.LoadCount);
    }

    [Fact]
    public async Task Latest_version_is_read_again_after_the_ttl_when_no_invalidation_arrived()
    {
        await Prompts.SaveAsync(Definition("p", "version one"));
        var cache = Sys.ActorOf(PromptCacheActor.Props(Prompts, Clock, TimeSpan.FromMinutes(1)));
        cache.Tell(new GetPrompt("p"), TestActor);
        Assert.Equal(1, ExpectMsg<PromptFound>().Prompt.Version);
        await Prompts.SaveAsync(Definition("p", "version two")); // saved on another node; its notice never came

        Clock.Advance(TimeSpan.FromSeconds(59));
        cache.Tell(new GetPrompt("p"), TestActor);
        Assert.Equal(1, ExpectMsg<PromptFound>().Prompt.Version);
        cache.Tell(new GetPrompt("p", 1), TestActor);
        Assert.Equal(1, ExpectMsg<PromptFound>().Prompt.Version);

        Clock.Advance(TimeSpan.FromSeconds(1));
        cache.Tell(new GetPrompt("p"), TestActor);
        Assert.Equal(2, ExpectMsg<PromptFound>().Prompt.Version);
        cache.Tell(new GetPrompt("p", 1), TestActor); // a pinned version never expires
        Assert.Equal(1, ExpectMsg<PromptFound>().Prompt.Version);
        Assert.Equal(2, Prompts.LoadCount);
    }

    [Fact]
    public async Task Failing_load_is_not_cached_and_the_next_caller_retries()
    {
        await Prompts.SaveAsync(Definition("flaky", "x"));
        Prompts.FailLoadsWith = new TimeoutException("database timeout");

        await Refused<StoreUnavailableException>(() => Engine.StartInstanceAsync(new StartInstanceRequest("flaky", U1)));
        Prompts.FailLoadsWith = null;
        var view = await Engine.StartInstanceAsync(new StartInstanceRequest("flaky", U1));

        Assert.Equal(InstanceStatus.Ready, view.Status);
        Assert.Equal(2, Prompts.LoadCount);
    }

    [Fact]
    public async Task Missing_prompt_is_not_cached_either()
    {
        await Refused<PromptNotFoundException>(() => Engine.StartInstanceAsync(new StartInstanceRequest("later", U1)));
        await Engine.SavePromptAsync(Definition("later", "now it exists"));
        Assert.Equal(InstanceStatus.Ready, (await Engine.StartInstanceAsync(new StartInstanceRequest("later", U1))).Status);
    }

    [Fact]
    public async Task Saving_a_prompt_invalidates_the_cache_and_running_instances_keep_their_pinned_version()
    {
        await Engine.SavePromptAsync(Definition("doc", "version one"));
        var pinned = await Engine.StartInstanceAsync(new StartInstanceRequest("doc", U1));
        Assert.Equal(1, pinned.PromptVersion);

        var v2 = await Engine.SavePromptAsync(Definition("doc", "version two"));
        Assert.Equal(2, v2.Version);
        var fresh = await Engine.StartInstanceAsync(new StartInstanceRequest("doc", U1));
        var explicitV1 = await Engine.StartInstanceAsync(new StartInstanceRequest("doc", U1, PromptVersion: 1));

        Assert.Equal(2, fresh.PromptVersion);
        Assert.Equal(1, explicitV1.PromptVersion);
        await SendAsync(pinned.InstanceId);
        await SendAsync(fresh.InstanceId);
        await StopEntityAsync(pinned.InstanceId); // the pin survives recovery
        await SendAsync(pinned.InstanceId, "again");
        Assert.Equal("system: version one", Text(Model.Requests[0]).Split('\n')[0]);
        Assert.Equal("system: version two", Text(Model.Requests[1]).Split('\n')[0]);
        Assert.Equal("system: version one", Text(Model.Requests[2]).Split('\n')[0]);
    }

    [Fact]
    public async Task Invalid_prompt_definitions_are_refused()
    {
        await Refused<ValidationFailedException>(() => Engine.SavePromptAsync(new PromptDefinition("bad id", "n", [new(MessageRole.User, "x")])));
        await Refused<ValidationFailedException>(() => Engine.SavePromptAsync(new PromptDefinition("ok", "", [new(MessageRole.User, "x")])));
        await Refused<ValidationFailedException>(() => Engine.SavePromptAsync(new PromptDefinition("ok", "n", [])));
        await Refused<ValidationFailedException>(() => Engine.SavePromptAsync(new PromptDefinition("ok", "n", [new(MessageRole.User, "x")],
            VariableDefaults: [new("1bad", "v")])));
        await Refused<ValidationFailedException>(() => Engine.SavePromptAsync(new PromptDefinition("ok", "n", [new(MessageRole.User, "x")],
            Settings: new PromptSettings(Temperature: 7))));
        Assert.Null(await Engine.GetPromptAsync("ok"));
    }
}
