using Akka.Actor;
using Akka.Configuration;
using PromptActors.Engine;
using PromptActors.Instances;
using PromptActors.Models;
using PromptActors.Prompts;
using PromptActors.Runs;
using PromptActors.Testing;
using PromptActors.Variables;
using PromptActors.Streaming;

namespace PromptActors.Bench.Infrastructure;

/// <summary>What the engine under test runs on.</summary>
public sealed record EngineHostOptions
{
    /// <summary>Journal/snapshot configuration (PromptActorsStorage.AkkaConfig()); null for Akka's in-memory plugins.</summary>
    public Config? Storage { get; init; }

    public IPromptStore Prompts { get; init; } = new InMemoryPromptStore();
    public IScopedVariableStore Variables { get; init; } = new InMemoryScopedVariableStore();
    public IRunStore Runs { get; init; } = new InMemoryRunStore();
    public LocalModelOptions Model { get; init; } = new();

    /// <summary>Keep the engine's reaper defaults (50 completed instances per node); off by default, see <see cref="Apply"/>.</summary>
    public bool DefaultReaper { get; init; }

    public Action<PromptActorsOptions>? Configure { get; init; }

    /// <summary>Extra HOCON above everything else (the <c>--akka</c> option), to measure a configuration change.</summary>
    public string? ExtraHocon { get; init; }

    /// <summary>
    /// The benchmarks keep every conversation alive between turns: with the default limit of 50 completed instances per
    /// node the reaper tombstones conversations that wait for their next message as soon as more than 50 are idle, and
    /// the next message fails with instance_expired (see RESULTS.md). Everything else stays at the engine's defaults.
    /// </summary>
    internal void Apply(PromptActorsOptions options)
    {
        if (!DefaultReaper)
        {
            options.Reaper.MaxCompletedPerNode = 1_000_000;
            options.Reaper.CompletedTtl = TimeSpan.FromHours(2);
        }
        Configure?.Invoke(options);
    }
}

/// <summary>
/// A real engine node for the benchmarks: a one-node cluster (sharding, persistence) started the way an application
/// without Akka.Hosting starts it, serialize-messages off (as in production), logging at WARNING.
/// </summary>
public sealed class EngineHost : IAsyncDisposable
{
    public const string PromptId = "bench-chat";
    public static readonly InstanceScope Scope = new("bench-user", "bench-org", "bench-project");

    private static readonly Config BaseConfig = ConfigurationFactory.ParseString("""
        akka {
          loglevel = WARNING
          stdout-loglevel = WARNING
          log-dead-letters = off
          log-dead-letters-during-shutdown = off
          actor {
            provider = cluster
            serialize-messages = off
          }
          remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0 }
          cluster.min-nr-of-members = 1
          cluster.log-info = off
        }
        """);

    private EngineHost(ActorSystem system, PromptActorsRuntime runtime, LocalChatClient model)
    {
        System = system;
        Runtime = runtime;
        Model = model;
    }

    public ActorSystem System { get; }
    public PromptActorsRuntime Runtime { get; }
    public IPromptExecutionEngine Engine => Runtime.Engine;
    public LocalChatClient Model { get; }

    /// <summary>The same local model the engine uses, for the hand-written baselines.</summary>
    public static LocalChatClient CreateModel(LocalModelOptions options) => new(options);

    public static async Task<EngineHost> StartAsync(EngineHostOptions options, string name = "bench")
    {
        var config = options.Storage is null
            ? BaseConfig.WithFallback(PromptActorsConfig.Default)
            : BaseConfig.WithFallback(options.Storage).WithFallback(PromptActorsConfig.Default);
        if (!string.IsNullOrWhiteSpace(options.ExtraHocon))
            config = ConfigurationFactory.ParseString(options.ExtraHocon).WithFallback(config);
        var system = ActorSystem.Create(name, config);
        var model = CreateModel(options.Model);
        var models = new ModelRegistry([
            new ModelEntry(LocalChatClient.ModelId, "local", model, new ModelPricing(0.15m, 0.6m)),
        ]);
        var engineOptions = new PromptActorsOptions();
        options.Apply(engineOptions);
        var runtime = PromptActorsRuntime.Start(system, engineOptions,
            new PromptActorsServices(options.Prompts, options.Variables, options.Runs, models, TimeProvider.System));

        var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Akka.Cluster.Cluster.Get(system).RegisterOnMemberUp(() => up.TrySetResult());
        await up.Task.WaitAsync(TimeSpan.FromSeconds(60));
        return new EngineHost(system, runtime, model);
    }

    /// <summary>Saves the benchmark prompt (when missing) and runs one message end to end, so the shard coordinator,
    /// caches and JIT are warm before anything is measured.</summary>
    public async Task WarmUpAsync(bool trackInRuns = false)
    {
        if (await Engine.GetPromptAsync(PromptId) is null)
            await Engine.SavePromptAsync(Prompt);
        for (var i = 0; i < 3; i++)
        {
            var view = await StartAsync(new ExecutionConfig(TrackInRuns: trackInRuns, ShowVariables: false));
            for (var turn = 0; turn < 3; turn++)
            {
                await Engine.ExecuteMessageAsync(view.InstanceId, UserInput(turn));
                var reply = await Engine.WaitForReplyAsync(view.InstanceId);
                if (reply is not ReplyCompleted)
                    throw new InvalidOperationException($"warm-up failed: {reply}");
            }
        }
    }

    public static readonly PromptDefinition Prompt = new(PromptId, "Benchmark chat",
        [
            new PromptMessage(MessageRole.System,
                "You are a concise assistant for {{org_name}}. Today is {{current_date}}. Address {{user_name}} politely."),
        ],
        "benchmark prompt",
        [new VariableDefault("org_name", "Acme"), new VariableDefault("user_name", "Ada")],
        new PromptSettings(LocalChatClient.ModelId, Temperature: 1, MaxTokens: 4096));

    /// <summary>What the hand-written baselines send as system message (the rendered template).</summary>
    public static string RenderedSystemMessage() =>
        $"You are a concise assistant for Acme. Today is {DateTime.UtcNow:yyyy-MM-dd}. Address Ada politely.";

    public static string UserInput(int turn) =>
        $"Question {turn}: tell me something interesting about the river, the museums and the old town of Paris in spring";

    public Task<InstanceView> StartAsync(ExecutionConfig config, CancellationToken cancellationToken = default) =>
        Engine.StartInstanceAsync(new StartInstanceRequest(PromptId, Scope, ExecutionConfig: config, RunName: "bench"),
            cancellationToken);

    public async ValueTask DisposeAsync()
    {
        try
        {
            await CoordinatedShutdown.Get(System).Run(CoordinatedShutdown.ClrExitReason.Instance).WaitAsync(TimeSpan.FromSeconds(20));
        }
        catch (Exception)
        {
            // best effort
        }
        await System.Terminate().WaitAsync(TimeSpan.FromSeconds(20));
    }
}
