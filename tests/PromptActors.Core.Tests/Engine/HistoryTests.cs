using PromptActors.Instances;
using PromptActors.Streaming;
using PromptActors.Testing;
using PromptActors.Tests.Support;
using PromptActors.Variables;
using Xunit.Abstractions;

namespace PromptActors.Tests.Engine;

/// <summary>An instance's journal in order, and its state as of any event (the original design's time travel).</summary>
public sealed class HistoryTests(ITestOutputHelper output) : EngineTestKit(output)
{
    private async Task<string> TwoTurnsAsync(bool showVariables)
    {
        await SavePromptAsync("h", "You help {{name}}.", defaults: [new PromptActors.Prompts.VariableDefault("name", "someone")]);
        var instance = await StartAsync("h", new ExecutionConfig(AllowChat: true, ShowVariables: showVariables),
            new Dictionary<string, string> { ["name"] = "Ada-secret" });
        Model.Enqueue(ScriptedReply.Text("First reply."), ScriptedReply.Text("Second reply."));
        Assert.IsType<ReplyCompleted>(await SendAsync(instance.InstanceId, "first question"));
        await Engine.UpdateVariablesAsync(instance.InstanceId, new Dictionary<string, string> { ["name"] = "Grace-secret" });
        Assert.IsType<ReplyCompleted>(await SendAsync(instance.InstanceId, "second question"));
        return instance.InstanceId;
    }

    [Fact]
    public async Task The_history_lists_every_event_in_order_and_the_state_as_of_any_of_them()
    {
        var id = await TwoTurnsAsync(showVariables: true);

        var all = await Engine.GetHistoryAsync(id);
        var kinds = all.Events.Where(e => e.Kind != "synced").Select(e => e.Kind).ToArray();
        Assert.Equal(["started", "message", "completed", "variables", "message", "completed"], kinds);
        Assert.Equal(Enumerable.Range(1, all.Events.Count).Select(i => (long)i), all.Events.Select(e => e.SequenceNr));
        Assert.Equal("first question", all.Events[1].Text);
        Assert.Equal("First reply.", all.Events[2].Text);
        Assert.Equal(4, all.State.Conversation.Count);
        Assert.Equal("Ada-secret", all.Events[0].Variables!["name"]); // shown: the instance shows variables
        Assert.Equal("Grace-secret", all.State.UserValues!["name"]);

        var afterFirstReply = all.Events.First(e => e.Kind == "completed").SequenceNr;
        var then = await Engine.GetHistoryAsync(id, afterFirstReply);
        Assert.Equal(afterFirstReply, then.Events.Count);
        Assert.Equal(afterFirstReply, then.LastSequenceNr);
        Assert.Equal(["first question", "First reply."], then.State.Conversation.Select(m => m.Content));
        Assert.Equal("Ada-secret", then.State.UserValues!["name"]);
        Assert.Equal(InstanceStatus.Completed, then.State.Status);
        Assert.Equal(1, then.State.TaskCount);
    }

    [Fact]
    public async Task Variable_values_stay_hidden_unless_the_instance_shows_variables()
    {
        var id = await TwoTurnsAsync(showVariables: false);

        var history = await Engine.GetHistoryAsync(id);

        Assert.All(history.Events, e => Assert.Null(e.Variables));
        Assert.Null(history.State.UserValues);
        Assert.Contains(history.Events, e => e.Kind == "variables" && e.Summary.Contains("name", StringComparison.Ordinal));
        Assert.DoesNotContain(history.Events, e => (e.Summary + e.Text).Contains("secret", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_history_survives_the_actor_and_does_not_disturb_the_instance()
    {
        var id = await TwoTurnsAsync(showVariables: false);
        await StopEntityAsync(id);

        var history = await Engine.GetHistoryAsync(id);
        Model.Enqueue(ScriptedReply.Text("Third."));
        var third = Assert.IsType<ReplyCompleted>(await SendAsync(id, "third"));

        Assert.Equal(4, history.State.Conversation.Count);
        Assert.Equal("Third.", third.Text);
        Assert.Equal(6, (await Engine.GetInstanceAsync(id)).Conversation.Count);
    }

    [Fact]
    public async Task Another_tenant_an_unknown_id_and_a_bad_position_are_refused_as_for_the_view()
    {
        var id = await TwoTurnsAsync(showVariables: true);
        var otherOrg = Engine.ForCaller(new InstanceScope("u1", "o2", "p1"));

        var foreign = await Refused<InstanceNotFoundException>(() => otherOrg.GetHistoryAsync(id));
        var unknown = await Refused<InstanceNotFoundException>(() => otherOrg.GetHistoryAsync("no-such-instance"));
        Assert.Equal(unknown.Message.Replace("no-such-instance", id, StringComparison.Ordinal), foreign.Message);
        await Refused<ValidationFailedException>(() => Engine.GetHistoryAsync(id, 0));
        await Engine.CleanupAsync(id);
        await Refused<InstanceExpiredException>(() => Engine.GetHistoryAsync(id));
    }
}
