using Akka.Actor;
using Akka.Configuration;
using Microsoft.Extensions.Time.Testing;
using PromptActors.Engine;
using PromptActors.Instances;
using PromptActors.Models;
using PromptActors.Prompts;
using PromptActors.Testing;
using Xunit.Abstractions;
using PromptActors.Streaming;

namespace PromptActors.Tests.Support;

/// <summary>
/// A real engine (one-node cluster, sharding, in-memory journal) inside an Akka.TestKit actor system with
/// serialize-messages on, a fake clock and a scripted model registered as "scripted" next to "local".
/// </summary>
public abstract class EngineTestKit : Akka.TestKit.Xunit2.TestKit
{
    public static readonly Config TestConfig = ConfigurationFactory.ParseString("""
        akka {
          loglevel = INFO
          actor {
            provider = cluster
            serialize-messages = on
          }
          remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0 }
          cluster.min-nr-of-members = 1
        }
        """).WithFallback(PromptActorsConfig.Default);

    protected EngineTestKit(ITestOutputHelper output, Action<PromptActorsOptions>? configure = null)
        : base(TestConfig, "engine-test", output)
    {
        Clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 23, 9, 0, 0, TimeSpan.Zero));
        Model = new ScriptedChatClient(Clock);
        Local = new LocalChatClient(time: Clock);
        var models = new ModelRegistry([
            new ModelEntry(LocalChatClient.ModelId, "local", Local, ModelPricing.Free),
            new ModelEntry("scripted", "scripted", Model, new ModelPricing(InputPerMillion: 2m, OutputPerMillion: 8m)),
        ]);
        var options = new PromptActorsOptions();
        options.Reaper.SweepInterval = TimeSpan.FromMinutes(1);
        options.Instances.SyncRetryMin = TimeSpan.FromMilliseconds(100);
        options.Instances.SyncRetryMax = TimeSpan.FromMilliseconds(500);
        configure?.Invoke(options);
        Runtime = PromptActorsRuntime.Start(Sys, options,
            new PromptActorsServices(Prompts, Variables, Runs, models, Clock));
        Engine = Runtime.Engine;
    }

    protected FakeTimeProvider Clock { get; }
    protected ScriptedChatClient Model { get; }
    protected LocalChatClient Local { get; }
    protected InMemoryPromptStore Prompts { get; } = new();
    protected InMemoryScopedVariableStore Variables { get; } = new();
    protected InMemoryRunStore Runs { get; } = new();
    protected PromptActorsRuntime Runtime { get; }
    protected IPromptExecutionEngine Engine { get; }

    protected static readonly PromptActors.Variables.InstanceScope U1 = new("u1", "o1", "p1");

    /// <summary>Saves a prompt that uses the scripted model.</summary>
    protected Task<Prompt> SavePromptAsync(string id, string system, string? user = null,
        IReadOnlyList<VariableDefault>? defaults = null, PromptActors.Variables.MissingVariablePolicy policy = PromptActors.Variables.MissingVariablePolicy.Error,
        string model = "scripted")
    {
        var messages = new List<PromptMessage> { new(MessageRole.System, system) };
        if (user is not null)
            messages.Add(new PromptMessage(MessageRole.User, user));
        return Engine.SavePromptAsync(new PromptDefinition(id, id, messages, null, defaults, new PromptSettings(model), policy));
    }

    protected Task<InstanceView> StartAsync(string promptId, ExecutionConfig? config = null,
        IReadOnlyDictionary<string, string>? variables = null, bool retain = false, string? instanceId = null) =>
        Engine.StartInstanceAsync(new StartInstanceRequest(promptId, U1, variables, config ?? new ExecutionConfig(),
            Retain: retain, InstanceId: instanceId));

    /// <summary>Sends a message and waits for its reply.</summary>
    protected async Task<ReplyEvent> SendAsync(string instanceId, string? input = null)
    {
        await Engine.ExecuteMessageAsync(instanceId, input);
        return await Engine.WaitForReplyAsync(instanceId);
    }

    protected static async Task<TException> Refused<TException>(Func<Task> call) where TException : PromptActorsException =>
        await Assert.ThrowsAsync<TException>(call);

    /// <summary>Stops the instance's actor (as a crash or passivation would) so the next command recovers it from the journal.</summary>
    protected async Task StopEntityAsync(string instanceId)
    {
        var entity = await Sys.ActorSelection($"/system/sharding/{PromptActorsConfig.ShardTypeName}/*/{instanceId}")
            .ResolveOne(TimeSpan.FromSeconds(3));
        var probe = CreateTestProbe();
        probe.Watch(entity);
        entity.Tell(PoisonPill.Instance);
        probe.ExpectTerminated(entity);
        // The probe can learn of the stop before the shard does; a command sent in between would go to the dead entity.
        // Once the shard no longer lists the child, its own Terminated is queued ahead of anything sent from here on.
        await AwaitAssertAsync(async () => await Assert.ThrowsAsync<ActorNotFoundException>(() =>
            Sys.ActorSelection($"/system/sharding/{PromptActorsConfig.ShardTypeName}/*/{instanceId}").ResolveOne(TimeSpan.FromSeconds(1))));
    }

    protected static string Text(IReadOnlyList<Microsoft.Extensions.AI.ChatMessage> messages) =>
        string.Join("\n", messages.Select(m => $"{m.Role}: {m.Text}"));
}
