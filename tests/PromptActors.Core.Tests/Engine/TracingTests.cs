using System.Collections.Concurrent;
using System.Diagnostics;
using PromptActors.Streaming;
using PromptActors.Telemetry;
using PromptActors.Tests.Support;
using Xunit.Abstractions;

namespace PromptActors.Tests.Engine;

/// <summary>
/// The trace context travels in the command: with serialize-messages on, the command crosses the serializer as it would
/// between nodes, and the instance's turn still joins the caller's trace.
/// </summary>
public sealed class TracingTests : EngineTestKit, IDisposable
{
    private readonly ConcurrentQueue<Activity> _stopped = new();
    private readonly ActivityListener _listener;

    public TracingTests(ITestOutputHelper output) : base(output, o => o.Tools.Add(Microsoft.Extensions.AI.AIFunctionFactory.Create(
        (string orderId) => "secret-result for " + orderId, "lookup_order")))
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name.StartsWith("PromptActors", StringComparison.Ordinal) || s.Name == "test",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a => _stopped.Enqueue(a),
        };
        ActivitySource.AddActivityListener(_listener);
    }

    [Fact]
    public async Task A_turn_on_the_instance_is_a_child_of_the_caller_s_span_and_the_model_call_a_child_of_the_turn()
    {
        using var source = new ActivitySource("test");
        await SavePromptAsync("p", "Be brief.");
        var instance = await StartAsync("p", new PromptActors.Instances.ExecutionConfig(AllowChat: true));
        Model.Enqueue(PromptActors.Testing.ScriptedReply.Text("ok"));

        string traceId;
        using (var caller = source.StartActivity("caller"))
        {
            traceId = caller!.TraceId.ToString();
            Assert.IsType<ReplyCompleted>(await SendAsync(instance.InstanceId, "hello"));
        }

        await AwaitAssertAsync(() => Assert.Contains(_stopped, a => a.OperationName == "promptactors.turn"
            && a.TraceId.ToString() == traceId));
        var inTrace = _stopped.Where(a => a.TraceId.ToString() == traceId).ToArray();
        var caller2 = Assert.Single(inTrace, a => a.OperationName == "caller");
        var engine = Assert.Single(inTrace, a => a.OperationName == "promptactors.execute_message");
        var turn = Assert.Single(inTrace, a => a.OperationName == "promptactors.turn");
        var model = Assert.Single(inTrace, a => a.OperationName == "chat scripted");
        Assert.Equal(caller2.SpanId, engine.ParentSpanId);
        Assert.Equal(engine.SpanId, turn.ParentSpanId);
        Assert.Equal(turn.SpanId, model.ParentSpanId);
        Assert.Equal(10L, model.GetTagItem("gen_ai.usage.input_tokens")); // the scripted model reports 10 in / 5 out
        Assert.Equal(instance.InstanceId, model.GetTagItem("gen_ai.conversation.id"));
        Assert.Null(Activity.Current); // the actor's spans never became this thread's current one
    }

    [Fact]
    public async Task A_tool_turn_has_a_chat_span_per_model_call_and_an_execute_tool_span_per_call_without_their_content()
    {
        using var source = new ActivitySource("test");
        await Engine.SavePromptAsync(new PromptActors.Prompts.PromptDefinition("t", "t",
            [new(PromptActors.Prompts.MessageRole.System, "Help.")],
            Settings: new PromptActors.Prompts.PromptSettings(PromptActors.Testing.PromptActorsTestKit.ScriptedModelId, Tools: ["lookup_order"])));
        var instance = await StartAsync("t");
        Model.Enqueue(PromptActors.Testing.ScriptedReply.Calls(("c1", "lookup_order", """{"orderId":"secret-argument"}""")),
            PromptActors.Testing.ScriptedReply.Text("done"));

        string traceId;
        using (var caller = source.StartActivity("caller"))
        {
            traceId = caller!.TraceId.ToString();
            Assert.IsType<ReplyCompleted>(await SendAsync(instance.InstanceId, "where is it"));
        }

        await AwaitAssertAsync(() => Assert.Contains(_stopped, a => a.OperationName == "promptactors.turn" && a.TraceId.ToString() == traceId));
        var inTrace = _stopped.Where(a => a.TraceId.ToString() == traceId).ToArray();
        var turn = Assert.Single(inTrace, a => a.OperationName == "promptactors.turn");
        var chats = inTrace.Where(a => a.OperationName == "chat scripted").ToArray();
        Assert.Equal(2, chats.Length);
        Assert.All(chats, c => Assert.Equal(turn.SpanId, c.ParentSpanId));
        Assert.Contains(chats, c => c.GetTagItem("gen_ai.response.finish_reasons") is string[] { Length: 1 } r && r[0] == "tool_calls");
        var tool = Assert.Single(inTrace, a => a.OperationName == "execute_tool lookup_order");
        Assert.Equal(turn.SpanId, tool.ParentSpanId);
        Assert.Equal(("execute_tool", "lookup_order", "c1"),
            (tool.GetTagItem("gen_ai.operation.name"), tool.GetTagItem("gen_ai.tool.name"), tool.GetTagItem("gen_ai.tool.call.id")));
        // Arguments and results are content: no span of the trace carries them.
        foreach (var span in inTrace)
        {
            Assert.DoesNotContain(span.TagObjects, t => t.Value?.ToString()?.Contains("secret") == true);
            Assert.DoesNotContain(span.Events, e => e.Tags.Any(t => t.Value?.ToString()?.Contains("secret") == true));
        }
    }

    public new void Dispose()
    {
        _listener.Dispose();
        base.Dispose();
    }
}
