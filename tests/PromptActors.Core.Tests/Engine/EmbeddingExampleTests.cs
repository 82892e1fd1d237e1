using Akka.Configuration;
using Akka.TestKit.Xunit2;
using Microsoft.Extensions.Time.Testing;
using PromptActors.Engine;
using PromptActors.Instances;
using PromptActors.Models;
using PromptActors.Prompts;
using PromptActors.Testing;
using PromptActors.Variables;
using Xunit.Abstractions;
using PromptActors.Streaming;

namespace PromptActors.Tests.Engine;

/// <summary>
/// The example a team copies to test its own prompt flow: a real engine inside an Akka.TestKit actor system,
/// in-memory stores, a scripted model and a fake clock. Nothing here is internal to PromptActors.
/// </summary>
public sealed class EmbeddingExampleTests : TestKit
{
    private static readonly Config Config = ConfigurationFactory.ParseString("""
        akka.actor.provider = cluster
        akka.actor.serialize-messages = on
        akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0 }
        """).WithFallback(PromptActorsConfig.Default);

    private readonly ScriptedChatClient _model;
    private readonly InMemoryRunStore _runs = new();
    private readonly IPromptExecutionEngine _engine;

    public EmbeddingExampleTests(ITestOutputHelper output) : base(Config, "my-flow-test", output)
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        _model = new ScriptedChatClient(clock);
        var models = new ModelRegistry([new ModelEntry("gpt-4o-mini", "openai", _model, new ModelPricing(0.15m, 0.6m))], "gpt-4o-mini");
        _engine = PromptActorsRuntime.Start(Sys, new PromptActorsOptions(),
            new PromptActorsServices(new InMemoryPromptStore(clock), new InMemoryScopedVariableStore(), _runs, models, clock)).Engine;
    }

    [Fact]
    public async Task Support_flow_greets_the_customer_by_org_and_answers_a_follow_up()
    {
        await _engine.SavePromptAsync(new PromptDefinition("support", "Support",
            [new(MessageRole.System, "You are {{org_name}}'s support agent."), new(MessageRole.User, "{{question}}")]));
        await _engine.SetScopeVariablesAsync(ScopeKind.Org, "acme", new Dictionary<string, string> { ["org_name"] = "Acme" });
        _model.Enqueue(ScriptedReply.Text("Hello! ", "Reset it in Settings."), ScriptedReply.Text("You're welcome."));

        var instance = await _engine.StartInstanceAsync(new StartInstanceRequest("support", new InstanceScope("alice", "acme"),
            new Dictionary<string, string> { ["question"] = "How do I reset my password?" },
            new ExecutionConfig(AutoRun: true)));
        var first = await _engine.WaitForReplyAsync(instance.InstanceId);
        await _engine.ExecuteMessageAsync(instance.InstanceId, "Thanks!");
        var second = await _engine.WaitForReplyAsync(instance.InstanceId);

        Assert.Equal("Hello! Reset it in Settings.", Assert.IsType<ReplyCompleted>(first).Text);
        Assert.Equal("You're welcome.", Assert.IsType<ReplyCompleted>(second).Text);
        Assert.Equal("You are Acme's support agent.", _model.Requests[0][0].Text);
        var view = await _engine.GetInstanceAsync(instance.InstanceId);
        Assert.Equal(3, view.Conversation.Count);
        await AwaitAssertAsync(async () =>
            Assert.Equal(2, (await _engine.GetRunAsync(view.RunTracking.RunId!))!.TaskCount));
    }
}
