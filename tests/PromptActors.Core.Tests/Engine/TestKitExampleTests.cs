using PromptActors.Prompts;
using PromptActors.Streaming;
using PromptActors.Testing;
using Xunit.Abstractions;

namespace PromptActors.Tests.Engine;

/// <summary>
/// The shortest way to test a flow: derive from PromptActorsTestKit (PromptActors.Testing), which starts a real engine
/// with serialize-messages on, in-memory stores, a fake clock and the scripted and local models.
/// </summary>
public sealed class TestKitExampleTests(ITestOutputHelper output) : PromptActorsTestKit(output)
{
    [Fact]
    public async Task A_conversation_keeps_its_turns_and_the_run_records_each_model_call()
    {
        await SavePromptAsync("support", "You are a support agent.");
        Model.Enqueue(ScriptedReply.Text("Hello! ", "How can I help?"), ScriptedReply.Text("Done."));

        var instance = await StartAsync("support");
        var first = Assert.IsType<ReplyCompleted>(await SendAsync(instance.InstanceId, "Hi"));
        var second = Assert.IsType<ReplyCompleted>(await SendAsync(instance.InstanceId, "Reset my password"));

        Assert.Equal("Hello! How can I help?", first.Text);
        Assert.Equal("Done.", second.Text);
        Assert.Equal(["system", "user", "assistant", "user"], Model.Requests[1].Select(m => m.Role.Value));
        // The journal survives the actor: stop it and the next read recovers the same conversation.
        await StopEntityAsync(instance.InstanceId);
        var view = await Engine.GetInstanceAsync(instance.InstanceId);
        Assert.Equal(4, view.Conversation.Count);
        await AwaitAssertAsync(async () => Assert.Equal(2, (await Engine.GetRunAsync(view.RunTracking.RunId!))!.TaskCount));
    }

    [Fact]
    public async Task The_local_model_answers_without_a_key()
    {
        await SavePromptAsync("echo", "Repeat.", model: "local");

        var instance = await StartAsync("echo");
        var reply = Assert.IsType<ReplyCompleted>(await SendAsync(instance.InstanceId, "hello there"));

        Assert.Equal("hello there", reply.Text);
    }
}
