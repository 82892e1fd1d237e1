using PromptActors.Instances;
using PromptActors.Testing;
using PromptActors.Tests.Support;
using Xunit.Abstractions;

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
}
