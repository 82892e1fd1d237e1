using PromptActors.Instances;
using PromptActors.Testing;
using PromptActors.Tests.Support;
using Xunit.Abstractions;
using PromptActors.Streaming;

namespace PromptActors.Tests.Instances;

public sealed class ExecutionBasicsTests(ITestOutputHelper output) : EngineTestKit(output)
{
    [Fact]
    public async Task Instance_runs_a_prompt_and_records_the_reply()
    {
        await SavePromptAsync("greeter", "You greet {{name}}.", "Say hello to {{name}}.");
        Model.Enqueue(ScriptedReply.Text("Hello", ", ", "Ada") with { Usage = new PromptActors.Models.TokenUsage(100, 3) });

        var view = await StartAsync("greeter", variables: new Dictionary<string, string> { ["name"] = "Ada" });
        Assert.Equal(InstanceStatus.Ready, view.Status);

        var reply = Assert.IsType<ReplyCompleted>(await SendAsync(view.InstanceId));
        Assert.Equal("Hello, Ada", reply.Text);
        Assert.Equal(103, reply.Stats.TotalTokens);
        Assert.Equal(0.000224m, reply.Stats.Cost); // 100 × 2/1M + 3 × 8/1M

        var request = Assert.Single(Model.Requests);
        Assert.Equal("system: You greet Ada.\nuser: Say hello to Ada.", Text(request));

        var after = await Engine.GetInstanceAsync(view.InstanceId);
        Assert.Equal(InstanceStatus.Completed, after.Status);
        Assert.Equal("Hello, Ada", Assert.Single(after.Conversation).Content);
        Assert.Equal(103, after.RunTracking.TotalTokens);
    }

    [Fact]
    public async Task Instance_may_run_on_another_model_than_the_prompts()
    {
        await SavePromptAsync("echo", "Repeat.", "words from the user", model: "scripted");
        var view = await Engine.StartInstanceAsync(new PromptActors.Engine.StartInstanceRequest("echo", U1, Model: "local"));

        var reply = Assert.IsType<ReplyCompleted>(await SendAsync(view.InstanceId));

        Assert.Equal("words from the user", reply.Text); // the local model echoes; the scripted one was never called
        Assert.Empty(Model.Requests);
        await StopEntityAsync(view.InstanceId);
        Assert.Equal("again", Assert.IsType<ReplyCompleted>(await SendAsync(view.InstanceId, "again")).Text);
        await Refused<ValidationFailedException>(() => Engine.StartInstanceAsync(new PromptActors.Engine.StartInstanceRequest("echo", U1, Model: "nope")));
    }
}
