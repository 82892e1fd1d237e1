using Akka.Actor;
using Akka.Configuration;
using PromptActors.Engine;
using PromptActors.Instances;
using PromptActors.Models;
using PromptActors.Prompts;
using PromptActors.Runs;
using PromptActors.Testing;
using PromptActors.Variables;
using Xunit.Abstractions;
using PromptActors.Streaming;

namespace PromptActors.Persistence.Tests.Support;

/// <summary>
/// One real engine node (one-node cluster, sharding, serialize-messages on) whose journal and snapshots live in the
/// test's database, configured the way a host without Akka.Hosting would: <see cref="PromptActorsStorage.AkkaConfig"/>
/// above the test settings and <see cref="PromptActorsConfig.Default"/>. Nodes on one database run one after another.
/// </summary>
public sealed class EngineNode : IAsyncDisposable
{
    public const string ScriptedModel = "scripted";
    public static readonly ModelPricing ScriptedPricing = new(InputPerMillion: 2m, OutputPerMillion: 8m);
    public static readonly InstanceScope U1 = new("u1", "o1", "p1");

    private static readonly Config TestConfig = ConfigurationFactory.ParseString("""
        akka {
          loglevel = WARNING
          actor {
            provider = cluster
            serialize-messages = on
          }
          remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0 }
          cluster.min-nr-of-members = 1
          # Terminating the system is a crash here: no graceful leave, no hand-off.
          coordinated-shutdown.run-by-actor-system-terminate = off
        }
        """).WithFallback(ConfigurationFactory.ParseString(InProcessSerializer.Binding));

    private readonly Akka.TestKit.Xunit2.TestKit _kit;

    private EngineNode(Akka.TestKit.Xunit2.TestKit kit, PromptActorsRuntime runtime, ScriptedChatClient model)
    {
        _kit = kit;
        Runtime = runtime;
        Model = model;
    }

    public ActorSystem System => _kit.Sys;
    public PromptActorsRuntime Runtime { get; }
    public IPromptExecutionEngine Engine => Runtime.Engine;
    public ScriptedChatClient Model { get; }

    public static EngineNode Start(PromptActorsStorage storage, ITestOutputHelper output, IRunStore? runs = null,
        ScriptedChatClient? model = null, Action<PromptActorsOptions>? configure = null, Config? akka = null)
    {
        var config = (akka ?? Config.Empty).WithFallback(TestConfig).WithFallback(storage.AkkaConfig()).WithFallback(PromptActorsConfig.Default);
        var kit = new Akka.TestKit.Xunit2.TestKit(config, "persistence-test", output);
        model ??= new ScriptedChatClient();
        var models = new ModelRegistry([
            new ModelEntry(LocalChatClient.ModelId, "local", new LocalChatClient(), ModelPricing.Free),
            new ModelEntry(ScriptedModel, "scripted", model, ScriptedPricing),
        ]);
        var options = new PromptActorsOptions();
        options.Instances.SyncRetryMin = TimeSpan.FromMilliseconds(100);
        options.Instances.SyncRetryMax = TimeSpan.FromSeconds(1);
        configure?.Invoke(options);
        var runtime = PromptActorsRuntime.Start(kit.Sys, options,
            new PromptActorsServices(storage.Prompts, storage.Variables, runs ?? storage.Runs, models, TimeProvider.System,
                Attachments: storage.Attachments));
        return new EngineNode(kit, runtime, model);
    }

    public Task<Prompt> SavePromptAsync(string id, string system, string? user = null, string model = ScriptedModel)
    {
        var messages = new List<PromptMessage> { new(MessageRole.System, system) };
        if (user is not null)
            messages.Add(new PromptMessage(MessageRole.User, user));
        return Engine.SavePromptAsync(new PromptDefinition(id, id, messages, Settings: new PromptSettings(model)));
    }

    public Task<InstanceView> StartInstanceAsync(string promptId, IReadOnlyDictionary<string, string>? variables = null,
        int? promptVersion = null, ExecutionConfig? config = null) =>
        Engine.StartInstanceAsync(new StartInstanceRequest(promptId, U1, variables,
            config ?? new ExecutionConfig(), PromptVersion: promptVersion,
            RunName: "persistence-test"));

    /// <summary>Sends a message and waits for the terminal reply.</summary>
    public async Task<(MessageAccepted Accepted, ReplyEvent Reply)> SendAsync(string instanceId, string? input)
    {
        var accepted = await Engine.ExecuteMessageAsync(instanceId, input);
        return (accepted, await Engine.WaitForReplyAsync(instanceId));
    }

    /// <summary>Stops the node abruptly: the journal keeps what was persisted, nothing else happens on the way down.</summary>
    public Task CrashAsync() => System.Terminate();

    public async ValueTask DisposeAsync()
    {
        await System.Terminate();
        _kit.Dispose();
    }
}
