using Akka.Actor;
using Akka.Configuration;
using Microsoft.Extensions.Time.Testing;
using PromptActors.Engine;
using PromptActors.Instances;
using PromptActors.Models;
using PromptActors.Prompts;
using PromptActors.Streaming;
using PromptActors.Variables;
using Xunit.Abstractions;

namespace PromptActors.Testing;

/// <summary>
/// A real engine for a test: a one-node cluster with sharding and the in-memory journal, inside an Akka.TestKit actor
/// system with <c>serialize-messages = on</c> (every message crosses the serializer, as between nodes), a fake clock, the
/// in-memory stores, and two models: <see cref="Model"/> (<c>scripted</c>: replies you enqueue) and <see cref="Local"/>
/// (<c>local</c>: deterministic, no network). Derive a test class from it and use <see cref="Engine"/>.
/// </summary>
public abstract class PromptActorsTestKit : Akka.TestKit.Xunit2.TestKit
{
    /// <summary>The model id of <see cref="Model"/>.</summary>
    public const string ScriptedModelId = "scripted";

    /// <summary>The actor system's configuration: the cluster provider on a free loopback port, serialize-messages on.</summary>
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

    /// <summary>The caller <see cref="StartAsync"/> starts instances for.</summary>
    public static readonly InstanceScope TestCaller = new("u1", "o1", "p1");

    /// <param name="output">xunit's output: the actor system's log goes there.</param>
    /// <param name="configure">Changes to the engine's options (the reaper's sweep is a minute, run-store retries short).</param>
    /// <param name="systemName">The actor system's name.</param>
    protected PromptActorsTestKit(ITestOutputHelper? output = null, Action<PromptActorsOptions>? configure = null,
        string systemName = "prompt-actors-test")
        : base(TestConfig, systemName, output)
    {
        Clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 23, 9, 0, 0, TimeSpan.Zero));
        Model = new ScriptedChatClient(Clock);
        Local = new LocalChatClient(time: Clock);
        var models = new ModelRegistry([
            new ModelEntry(LocalChatClient.ModelId, ModelProviders.Local, Local, ModelPricing.Free, TokenCounter.O200k),
            new ModelEntry(ScriptedModelId, ScriptedModelId, Model, new ModelPricing(InputPerMillion: 2m, OutputPerMillion: 8m)),
        ]);
        var options = new PromptActorsOptions();
        options.Reaper.SweepInterval = TimeSpan.FromMinutes(1);
        options.Instances.SyncRetryMin = TimeSpan.FromMilliseconds(100);
        options.Instances.SyncRetryMax = TimeSpan.FromMilliseconds(500);
        configure?.Invoke(options);
        Runtime = PromptActorsRuntime.Start(Sys, options, new PromptActorsServices(Prompts, Variables, Runs, models, Clock,
            new JsonSchemaValidator(), Attachments: Attachments));
        Engine = Runtime.Engine;
    }

    /// <summary>The engine's clock: advance it to make time pass for the reaper, TTLs and timestamps.</summary>
    protected FakeTimeProvider Clock { get; }

    /// <summary>The <c>scripted</c> model: enqueue its replies, read the requests it got.</summary>
    protected ScriptedChatClient Model { get; }

    /// <summary>The built-in <c>local</c> model.</summary>
    protected LocalChatClient Local { get; }

    protected InMemoryPromptStore Prompts { get; } = new();

    /// <summary>The bytes of image and file parts sent in messages.</summary>
    protected InMemoryAttachmentStore Attachments { get; } = new();
    protected InMemoryScopedVariableStore Variables { get; } = new();
    protected InMemoryRunStore Runs { get; } = new();
    protected PromptActorsRuntime Runtime { get; }
    protected IPromptExecutionEngine Engine { get; }

    /// <summary>Saves a prompt of a system message (and a user message) that uses <paramref name="model"/>.</summary>
    protected Task<Prompt> SavePromptAsync(string id, string system, string? user = null,
        IReadOnlyList<VariableDefault>? defaults = null, MissingVariablePolicy policy = MissingVariablePolicy.Error,
        string model = ScriptedModelId)
    {
        var messages = new List<PromptMessage> { new(MessageRole.System, system) };
        if (user is not null)
            messages.Add(new PromptMessage(MessageRole.User, user));
        return Engine.SavePromptAsync(new PromptDefinition(id, id, messages, null, defaults, new PromptSettings(model), policy));
    }

    /// <summary>Starts an instance of <paramref name="promptId"/> for <see cref="TestCaller"/>.</summary>
    protected Task<InstanceView> StartAsync(string promptId, ExecutionConfig? config = null,
        IReadOnlyDictionary<string, string>? variables = null, bool retain = false, string? instanceId = null) =>
        Engine.StartInstanceAsync(new StartInstanceRequest(promptId, TestCaller, variables, config ?? new ExecutionConfig(),
            Retain: retain, InstanceId: instanceId));

    /// <summary>Sends a message and waits for its reply.</summary>
    protected async Task<ReplyEvent> SendAsync(string instanceId, string? input = null)
    {
        await Engine.ExecuteMessageAsync(instanceId, input);
        return await Engine.WaitForReplyAsync(instanceId);
    }

    /// <summary>Stops the instance's actor (as a crash or passivation would) so the next command recovers it from the journal.</summary>
    protected async Task StopEntityAsync(string instanceId)
    {
        var path = $"/system/sharding/{PromptActorsConfig.ShardTypeName}/*/{instanceId}";
        var entity = await Sys.ActorSelection(path).ResolveOne(TimeSpan.FromSeconds(3));
        var probe = CreateTestProbe();
        probe.Watch(entity);
        entity.Tell(PoisonPill.Instance);
        probe.ExpectTerminated(entity);
        // The probe can learn of the stop before the shard does; a command sent in between would go to the dead entity.
        // Once the shard no longer lists the child, its own Terminated is queued ahead of anything sent from here on.
        await AwaitAssertAsync(async () =>
        {
            try
            {
                await Sys.ActorSelection(path).ResolveOne(TimeSpan.FromSeconds(1));
            }
            catch (ActorNotFoundException)
            {
                return;
            }
            throw new InvalidOperationException($"the entity {instanceId} is still listed by its shard");
        });
    }
}
