using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using PromptActors.Engine;
using PromptActors.Hosting;
using PromptActors.Models;
using PromptActors.Testing;
using PromptActors.Instances;
using PromptActors.Prompts;
using PromptActors.Variables;
using PromptActors.Streaming;

namespace PromptActors.Tests.Engine;

public sealed class HostingTests
{
    [Fact]
    public async Task AddPromptActors_runs_the_engine_in_a_generic_host_with_the_local_model()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddPromptActorsInMemoryStores().AddPromptActorsModels().AddPromptActors();
        using var host = builder.Build();
        await host.StartAsync();
        try
        {
            var engine = host.Services.GetRequiredService<IPromptExecutionEngine>();
            await engine.SavePromptAsync(new PromptDefinition("echo", "Echo",
                [new(MessageRole.System, "Repeat."), new(MessageRole.User, "hello from {{who}}")],
                VariableDefaults: [new("who", "the host")]));
            var view = await engine.StartInstanceAsync(new StartInstanceRequest("echo", new InstanceScope("u1"),
                ExecutionConfig: new ExecutionConfig(AutoRun: true)));
            var reply = Assert.IsType<ReplyCompleted>(await engine.WaitForReplyAsync(view.InstanceId));

            Assert.Equal("hello from the host", reply.Text);
            Assert.True(reply.Stats.InputTokens > 0);
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task The_engine_is_resolvable_before_the_host_starts_and_the_actors_are_in_the_registry()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddPromptActorsInMemoryStores().AddPromptActorsModels().AddPromptActors(o => o.TaskSweeper.Enabled = true);
        using var host = builder.Build();
        // What a hosted service built before Akka's would get: a command sent now waits for the actors.
        var engine = host.Services.GetRequiredService<IPromptExecutionEngine>();
        var early = engine.GetInstanceAsync("not-started-yet");
        await host.StartAsync();
        try
        {
            await Assert.ThrowsAsync<InstanceNotFoundException>(() => early.WaitAsync(TimeSpan.FromSeconds(10)));
            var system = host.Services.GetRequiredService<Akka.Actor.ActorSystem>();
            var registry = host.Services.GetRequiredService<Akka.Hosting.ActorRegistry>();
            // The instance region Akka.Hosting started (WithShardRegion) is the one sharding knows by the type name.
            Assert.Equal(Akka.Cluster.Sharding.ClusterSharding.Get(system).ShardRegion(PromptActorsConfig.ShardTypeName),
                registry.Get<ExecutionInstanceActor>());
            Assert.True(registry.TryGet<PromptCacheActor>(out _));
            Assert.True(registry.TryGet<ScopedVariablesActor>(out _));
            Assert.True(registry.TryGet<InstanceReaper>(out _));
            // The task sweeper runs as a cluster singleton (WithSingleton): its manager is started with the system (the
            // singleton itself once this node is the oldest member; the cluster tests watch it sweep).
            var manager = await system.ActorSelection("/user/task-sweeper").ResolveOne(TimeSpan.FromSeconds(10));
            Assert.NotNull(manager);
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task A_host_that_calls_AddAkka_itself_adds_the_engine_to_its_own_actor_system()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddPromptActorsInMemoryStores().AddPromptActorsModels().AddPromptActorsEngine(actorSystemName: "teams-own");
        builder.Services.AddAkka("teams-own", (akka, sp) => akka.WithPromptActors(sp));
        using var host = builder.Build();
        await host.StartAsync();
        try
        {
            var engine = host.Services.GetRequiredService<IPromptExecutionEngine>();
            await engine.SavePromptAsync(new PromptDefinition("echo", "Echo", [new(MessageRole.System, "Repeat.")]));
            var view = await engine.StartInstanceAsync(new StartInstanceRequest("echo", new InstanceScope("u1"),
                ExecutionConfig: new ExecutionConfig(AllowChat: true)));
            await engine.ExecuteMessageAsync(view.InstanceId, "hello");

            Assert.Equal("hello", Assert.IsType<ReplyCompleted>(await engine.WaitForReplyAsync(view.InstanceId)).Text);
            Assert.Equal("teams-own", host.Services.GetRequiredService<Akka.Actor.ActorSystem>().Name);
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public void A_missing_store_or_model_registry_stops_the_start_naming_what_to_add()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddPromptActorsModels().AddPromptActors();
        using var host = builder.Build();
        var error = Assert.Throws<InvalidOperationException>(() => host.Services.GetRequiredService<IPromptExecutionEngine>());
        Assert.Contains("IPromptStore, IScopedVariableStore, IRunStore", error.Message);
        Assert.DoesNotContain("IModelRegistry", error.Message);
        Assert.Contains("AddPromptActorsInMemoryStores", error.Message);
    }

    [Fact]
    public void Invalid_options_stop_the_host_with_a_message_naming_the_key()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddPromptActors(o => o.Reaper.MaxCompletedPerNode = -1);
        using var host = builder.Build();
        var error = Assert.Throws<OptionsValidationException>(() => host.Services.GetRequiredService<IOptions<PromptActorsOptions>>().Value);
        Assert.Contains("PromptActors:Reaper:MaxCompletedPerNode", error.Message);
    }
}
