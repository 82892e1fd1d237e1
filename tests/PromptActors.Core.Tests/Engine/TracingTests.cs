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

    [Fact]
    public async Task A_chat_span_records_the_request_s_parameters()
    {
        await Engine.SavePromptAsync(new PromptActors.Prompts.PromptDefinition("params", "params",
            [new(PromptActors.Prompts.MessageRole.System, "Be brief.")],
            Settings: new PromptActors.Prompts.PromptSettings(PromptActors.Testing.PromptActorsTestKit.ScriptedModelId,
                Temperature: 0.25, TopP: 0.5, MaxTokens: 40, Seed: 7)));
        var instance = await StartAsync("params", new PromptActors.Instances.ExecutionConfig(AllowChat: true));
        Model.Enqueue(PromptActors.Testing.ScriptedReply.Text("ok"));
        Assert.IsType<ReplyCompleted>(await SendAsync(instance.InstanceId, "hello"));

        var model = await ChatSpanAsync(instance.InstanceId);
        Assert.Equal(0.25, model.GetTagItem("gen_ai.request.temperature"));
        Assert.Equal(0.5, model.GetTagItem("gen_ai.request.top_p"));
        Assert.Equal(40, model.GetTagItem("gen_ai.request.max_tokens"));
        Assert.Equal(7L, model.GetTagItem("gen_ai.request.seed"));
        Assert.Null(model.GetTagItem("gen_ai.request.frequency_penalty")); // not set, not recorded
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task With_content_capture_on_the_message_and_reply_are_recorded_as_events_or_as_the_experimental_attributes(bool latest)
    {
        var (capture, experimental) = (PromptActorsTelemetry.CaptureContent, PromptActorsTelemetry.LatestExperimental);
        PromptActorsTelemetry.CaptureContent = true;
        PromptActorsTelemetry.LatestExperimental = latest;
        try
        {
            await SavePromptAsync("captured", "Be brief.");
            var instance = await StartAsync("captured", new PromptActors.Instances.ExecutionConfig(AllowChat: true));
            Model.Enqueue(PromptActors.Testing.ScriptedReply.Text("the reply"));
            Assert.IsType<ReplyCompleted>(await SendAsync(instance.InstanceId, "the question"));

            var model = await ChatSpanAsync(instance.InstanceId);
            if (latest)
            {
                Assert.Empty(model.Events);
                Assert.Equal("""[{"role":"user","parts":[{"type":"text","content":"the question"}]}]""",
                    model.GetTagItem("gen_ai.input.messages"));
                Assert.Equal("""[{"role":"assistant","parts":[{"type":"text","content":"the reply"}],"finish_reason":"stop"}]""",
                    model.GetTagItem("gen_ai.output.messages"));
            }
            else
            {
                Assert.Null(model.GetTagItem("gen_ai.input.messages"));
                Assert.Equal(["gen_ai.user.message", "gen_ai.choice"], model.Events.Select(e => e.Name).ToArray());
                Assert.Equal("the question", model.Events.First().Tags.Single(t => t.Key == "content").Value);
                Assert.Equal("the reply", model.Events.Last().Tags.Single(t => t.Key == "content").Value);
            }
        }
        finally
        {
            (PromptActorsTelemetry.CaptureContent, PromptActorsTelemetry.LatestExperimental) = (capture, experimental);
        }
    }

    private async Task<Activity> ChatSpanAsync(string instanceId)
    {
        Activity? found = null;
        await AwaitAssertAsync(() => Assert.NotNull(found = _stopped.LastOrDefault(a => a.OperationName == "chat scripted"
            && (string?)a.GetTagItem("gen_ai.conversation.id") == instanceId)));
        return found!;
    }

    public new void Dispose()
    {
        _listener.Dispose();
        base.Dispose();
    }
}
