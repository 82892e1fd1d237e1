using PromptActors.Instances;
using PromptActors.Streaming;
using PromptActors.Testing;
using PromptActors.Tests.Support;
using PromptActors.Variables;
using Xunit.Abstractions;

namespace PromptActors.Tests.Engine;

/// <summary>Fork: try another reply from any point of a conversation, in a new instance with its own journal and run.</summary>
public sealed class ForkTests(ITestOutputHelper output) : EngineTestKit(output)
{
    private async Task<string> TwoTurnsAsync()
    {
        await SavePromptAsync("f", "You help {{name}}.", defaults: [new PromptActors.Prompts.VariableDefault("name", "someone")]);
        var instance = await StartAsync("f", new ExecutionConfig(AllowChat: true), new Dictionary<string, string> { ["name"] = "Ada" });
        Model.Enqueue(ScriptedReply.Text("First reply."), ScriptedReply.Text("Second reply."));
        Assert.IsType<ReplyCompleted>(await SendAsync(instance.InstanceId, "first question"));
        Assert.IsType<ReplyCompleted>(await SendAsync(instance.InstanceId, "second question"));
        return instance.InstanceId;
    }

    [Fact]
    public async Task A_fork_after_the_first_reply_has_that_turn_and_goes_its_own_way()
    {
        var id = await TwoTurnsAsync();
        var history = await Engine.GetHistoryAsync(id);
        var afterFirst = history.Events.First(e => e.Kind == "completed").SequenceNr;

        var fork = await Engine.ForkInstanceAsync(id, afterFirst, "the-fork");
        Model.Enqueue(ScriptedReply.Text("Another second reply."));
        var reply = Assert.IsType<ReplyCompleted>(await SendAsync(fork.InstanceId, "a different second question"));

        Assert.Equal("the-fork", fork.InstanceId);
        Assert.Equal(["first question", "First reply."], fork.Conversation.Select(m => m.Content));
        Assert.Equal("Another second reply.", reply.Text);
        // The model got the first turn as history, then the new question.
        Assert.Equal(["System: You help Ada.", "User: first question", "Assistant: First reply.", "User: a different second question"],
            Model.Requests[^1].Select(m => $"{(m.Role == Microsoft.Extensions.AI.ChatRole.System ? "System" : m.Role == Microsoft.Extensions.AI.ChatRole.User ? "User" : "Assistant")}: {m.Text}"));
        var forkView = await Engine.GetInstanceAsync("the-fork");
        var original = await Engine.GetInstanceAsync(id);
        Assert.Equal(4, original.Conversation.Count); // untouched
        Assert.NotEqual(original.RunTracking.RunId, forkView.RunTracking.RunId); // its own run
        Assert.Equal(original.PromptVersion, forkView.PromptVersion);
        var forkHistory = await Engine.GetHistoryAsync("the-fork");
        Assert.Equal("forked", forkHistory.Events[0].Kind);
        Assert.Contains(id, forkHistory.Events[0].Summary);
    }

    [Fact]
    public async Task A_fork_inside_a_turn_leaves_the_unfinished_turn_out_and_survives_recovery()
    {
        var id = await TwoTurnsAsync();
        var history = await Engine.GetHistoryAsync(id);
        var secondMessage = history.Events.Last(e => e.Kind == "message").SequenceNr;

        var fork = await Engine.ForkInstanceAsync(id, secondMessage, "mid-turn");
        await StopEntityAsync("mid-turn");
        var recovered = await Engine.GetInstanceAsync("mid-turn");

        Assert.Equal(2, fork.Conversation.Count);
        Assert.Equal(fork.Conversation.Select(m => m.Content), recovered.Conversation.Select(m => m.Content));
        Assert.Equal(InstanceStatus.Completed, recovered.Status);
    }

    [Fact]
    public async Task A_taken_id_a_foreign_or_unknown_source_and_a_bad_position_are_refused()
    {
        var id = await TwoTurnsAsync();
        await Engine.ForkInstanceAsync(id, 1, "taken");
        var otherOrg = Engine.ForCaller(new InstanceScope("u1", "o2", "p1"));

        Assert.Equal(ErrorCodes.InstanceExists,
            (await Refused<PromptActorsException>(() => Engine.ForkInstanceAsync(id, 1, "taken"))).Code);
        await Refused<InstanceNotFoundException>(() => otherOrg.ForkInstanceAsync(id, 1));
        await Refused<InstanceNotFoundException>(() => Engine.ForkInstanceAsync("no-such", 1));
        await Refused<ValidationFailedException>(() => Engine.ForkInstanceAsync(id, 0));
        await Refused<ValidationFailedException>(() => Engine.ForkInstanceAsync(id, 1, "bad id!"));
    }
}
