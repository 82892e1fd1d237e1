using System.Text.Json.Nodes;
using Akka.Configuration;
using Microsoft.Extensions.AI;
using PromptActors.Engine;
using PromptActors.Models.Tests.Support;
using PromptActors.Prompts;
using PromptActors.Streaming;
using PromptActors.Testing;
using PromptActors.Tools;
using PromptActors.Variables;
using Xunit.Abstractions;

namespace PromptActors.Models.Tests;

/// <summary>The tool loop against the fake OpenAI-compatible server, through the real OpenAI .NET client.</summary>
public sealed class ToolsOverOpenAITests : Akka.TestKit.Xunit2.TestKit, IAsyncLifetime
{
    private static readonly Config NodeConfig = ConfigurationFactory.ParseString("""
        akka.loglevel = INFO
        akka.actor.provider = cluster
        akka.actor.serialize-messages = on
        akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0 }
        """).WithFallback(PromptActorsConfig.Default);

    private FakeOpenAIServer _server = null!;
    private PromptActorsRuntime _runtime = null!;
    private int _lookups;

    public ToolsOverOpenAITests(ITestOutputHelper output) : base(NodeConfig, "tools-openai", output)
    {
    }

    private IPromptExecutionEngine Engine => _runtime.Engine;

    public async Task InitializeAsync()
    {
        _server = await FakeOpenAIServer.StartAsync();
        var registry = ModelRegistryFactory.Create(new Dictionary<string, ModelOptions> { ["gpt"] = TestModels.OpenAI(_server) },
            TimeProvider.System);
        var options = new PromptActorsOptions();
        options.Tools.Add(AIFunctionFactory.Create((string orderId, int? quantity = null) =>
        {
            Interlocked.Increment(ref _lookups);
            return new { orderId, quantity, status = "shipped" };
        }, "lookup_order", "Looks up an order."), ToolPolicy.Idempotent);
        _runtime = PromptActorsRuntime.Start(Sys, options, new PromptActorsServices(new InMemoryPromptStore(),
            new InMemoryScopedVariableStore(), new InMemoryRunStore(), registry, TimeProvider.System, new JsonSchemaValidator()));
        await Engine.SavePromptAsync(new PromptDefinition("orders", "Orders", [new(MessageRole.System, "Help with orders.")],
            Settings: new PromptSettings("gpt", Tools: ["lookup_order"], ToolChoice: "auto", ParallelToolCalls: true)));
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Tools_go_on_the_wire_streamed_parallel_calls_are_assembled_and_their_results_go_back_to_the_model()
    {
        _server.Script(
            new Reply
            {
                ToolCalls =
                [
                    new FakeToolCall("call_a", "lookup_order", "{\"ord", "erId\":\"A-1\",", "\"quantity\":2}"),
                    new FakeToolCall("call_b", "lookup_order", "{\"orderId\"", ":\"B-2\"}"),
                ],
                Usage = new FakeUsage(30, 12),
            },
            Reply.Text("Both", " shipped.") with { Usage = new FakeUsage(60, 3) });
        var id = (await Engine.StartInstanceAsync(new StartInstanceRequest("orders", new InstanceScope("u1")))).InstanceId;

        var streamed = await Engine.ExecuteMessageStreamAsync(id, "where are A-1 and B-2?", null);
        var events = new List<ReplyEvent>();
        await foreach (var e in streamed.Events)
            events.Add(e);

        var done = Assert.IsType<ReplyCompleted>(events[^1]);
        Assert.Equal("Both shipped.", done.Text);
        Assert.Equal(2, _lookups);
        Assert.Equal(105, done.Stats.TotalTokens); // both model calls
        Assert.Equal(["call_a", "call_b"], events.OfType<ReplyToolCall>().Select(c => c.CallId));

        // The first request offers the tool with its schema and the tool settings.
        var first = _server.Requests[0].Body;
        var tool = Assert.Single(first["tools"]!.AsArray())!;
        Assert.Equal("function", (string?)tool["type"]);
        Assert.Equal("lookup_order", (string?)tool["function"]!["name"]);
        Assert.Equal("Looks up an order.", (string?)tool["function"]!["description"]);
        Assert.Equal("string", (string?)tool["function"]!["parameters"]!["properties"]!["orderId"]!["type"]);
        Assert.Equal("auto", (string?)first["tool_choice"]);
        Assert.True((bool)first["parallel_tool_calls"]!);

        // The second carries the assistant's calls, assembled from their pieces, and one tool message per call.
        var messages = _server.Requests[1].Body["messages"]!.AsArray();
        var assistant = messages.Single(m => (string?)m!["role"] == "assistant")!;
        var calls = assistant["tool_calls"]!.AsArray();
        Assert.Equal(["call_a", "call_b"], calls.Select(c => (string?)c!["id"]));
        var args = JsonNode.Parse((string)calls[0]!["function"]!["arguments"]!)!;
        Assert.Equal(("A-1", 2), ((string?)args["orderId"], (int)args["quantity"]!));
        // The results follow in the order the calls finished (they ran at once).
        var results = messages.Where(m => (string?)m!["role"] == "tool").ToDictionary(m => (string)m!["tool_call_id"]!, m => (string?)m!["content"]);
        Assert.Equal(["call_a", "call_b"], results.Keys.Order());
        Assert.Contains("B-2", results["call_b"]);
        Assert.Contains("\"quantity\":2", results["call_a"]);
    }

    [Fact]
    public async Task A_required_tool_choice_and_parallel_calls_off_reach_the_server()
    {
        await Engine.SavePromptAsync(new PromptDefinition("must", "Must", [new(MessageRole.System, "Look it up.")],
            Settings: new PromptSettings("gpt", Tools: ["lookup_order"], ToolChoice: "lookup_order", ParallelToolCalls: false)));
        _server.Script(Reply.Text("no"));
        var id = (await Engine.StartInstanceAsync(new StartInstanceRequest("must", new InstanceScope("u1")))).InstanceId;

        await Engine.ExecuteMessageAsync(id, "go");
        await Engine.WaitForReplyAsync(id);

        var body = Assert.Single(_server.Requests).Body;
        Assert.Equal("lookup_order", (string?)body["tool_choice"]!["function"]!["name"]);
        Assert.False((bool)body["parallel_tool_calls"]!);
    }
}
