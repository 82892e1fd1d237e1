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

    public TracingTests(ITestOutputHelper output) : base(output)
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

    public new void Dispose()
    {
        _listener.Dispose();
        base.Dispose();
    }
}
