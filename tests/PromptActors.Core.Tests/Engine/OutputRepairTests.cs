using Microsoft.Extensions.AI;
using PromptActors.Instances;
using PromptActors.Prompts;
using PromptActors.Runs;
using PromptActors.Streaming;
using PromptActors.Testing;
using PromptActors.Tests.Support;
using Xunit.Abstractions;

namespace PromptActors.Tests.Engine;

/// <summary>
/// settings.repairAttempts: a reply that breaks the prompt's JSON schema is given back to the model with the validation
/// errors, up to that many more model calls (each its own ai_tasks row); then the turn fails invalid_output.
/// </summary>
public sealed class OutputRepairTests(ITestOutputHelper output) : EngineTestKit(output)
{
    private const string Schema = """
        {"type":"object","properties":{"sentiment":{"type":"string","enum":["positive","negative"]},"score":{"type":"integer","maximum":5}},
         "required":["sentiment","score"],"additionalProperties":false}
        """;

    private const string Bad = """{"sentiment":"ecstatic","score":9}""";
    private const string Good = """{"sentiment":"positive","score":5}""";

    private async Task<string> StartRatingAsync(int? repairAttempts = null)
    {
        await Engine.SavePromptAsync(new PromptDefinition("rate", "rate", [new(MessageRole.System, "Rate the review.")], Settings:
            new PromptSettings(PromptActorsTestKit.ScriptedModelId, ResponseFormat: new ResponseFormat(ResponseFormat.JsonSchemaType, "review", Schema),
                RepairAttempts: repairAttempts)));
        return (await StartAsync("rate")).InstanceId;
    }

    [Fact]
    public async Task An_invalid_reply_is_repaired_in_one_more_call_told_the_errors_and_both_calls_are_rows_of_the_turn()
    {
        Model.Enqueue(ScriptedReply.Text("""{"sentiment":"ecstatic",""", "\"score\":9}"), ScriptedReply.Text(Good));
        var instanceId = await StartRatingAsync();

        var streamed = await Engine.ExecuteMessageStreamAsync(instanceId, "love it", null);
        var events = new List<ReplyEvent>();
        await foreach (var e in streamed.Events)
            events.Add(e);

        var done = Assert.IsType<ReplyCompleted>(events[^1]);
        Assert.Equal(Good, done.Text);
        Assert.Equal("positive", done.Output!.Value.GetProperty("sentiment").GetString());
        // The stream: the invalid reply's chunks, the repair event (drop them), the repaired reply; one index sequence.
        Assert.Equal(["chunk", "chunk", "repair", "chunk"], events.SkipLast(1).Select(Kind));
        Assert.Equal([0L, 1L, 2L, 3L], events.SkipLast(1).Select(Index));
        var repair = Assert.IsType<ReplyRepair>(events[2]);
        Assert.Contains("/sentiment", repair.Errors);
        Assert.Contains("/score", repair.Errors);
        // The repairing call got the conversation, the invalid reply and the errors.
        Assert.Equal(2, Model.Requests.Count);
        var second = Model.Requests[1];
        Assert.Equal(ChatRole.Assistant, second[^2].Role);
        Assert.Equal(Bad, second[^2].Text);
        Assert.Equal(ChatRole.User, second[^1].Role);
        Assert.Contains("/sentiment", second[^1].Text);
        // The conversation keeps the question and the valid answer only.
        var view = await Engine.GetInstanceAsync(instanceId);
        Assert.Equal([(MessageRole.User, "love it"), (MessageRole.Assistant, Good)], view.Conversation.Select(m => (m.Role, m.Content)));
        // Two model calls, both costed, adding up to the task.
        var row = Assert.Single((await AwaitRunAsync(view.RunTracking.RunId!, 1)).Tasks);
        Assert.Equal(RunTaskStatus.Completed, row.Status);
        Assert.Equal(Good, row.ResponseText);
        var calls = row.ModelCalls!;
        Assert.Equal([(0, RunTaskStatus.Completed, Bad), (1, RunTaskStatus.Completed, (string?)null)], calls.Select(c => (c.Step, c.Status, c.Text)));
        Assert.All(calls, c => Assert.True(c.Cost > 0 && c.TokensTotal == 15));
        Assert.Equal(calls.Sum(c => c.Cost), row.Cost);
        Assert.Equal(30, view.RunTracking.TotalTokens);
        var history = await Engine.GetHistoryAsync(instanceId);
        Assert.Equal(["started", "message", "repair", "completed"], history.Events.Select(e => e.Kind));
        Assert.Equal(Bad, history.Events[2].Text);
    }

    [Fact]
    public async Task A_reply_still_invalid_after_the_repairs_fails_invalid_output_with_its_raw_text()
    {
        Model.Enqueue(ScriptedReply.Text(Bad), ScriptedReply.Text("""{"sentiment":"meh","score":1}"""), ScriptedReply.Text(Good));
        var instanceId = await StartRatingAsync();

        var failed = Assert.IsType<ReplyFailed>(await SendAsync(instanceId, "hm"));

        Assert.Equal(ErrorCodes.InvalidOutput, failed.Code);
        Assert.Contains("/sentiment", failed.Detail);
        Assert.Equal("""{"sentiment":"meh","score":1}""", failed.PartialText);
        Assert.Equal(2, Model.Requests.Count); // repairAttempts defaults to 1: one more call, not two
        var view = await Engine.GetInstanceAsync(instanceId);
        Assert.Equal(InstanceStatus.Error, view.Status);
        Assert.Empty(view.Conversation); // a failed turn leaves nothing in the conversation
        var row = Assert.Single((await AwaitRunAsync(view.RunTracking.RunId!, 1)).Tasks);
        Assert.Equal((RunTaskStatus.Failed, ErrorCodes.InvalidOutput), (row.Status, row.ErrorCode));
        Assert.Equal([RunTaskStatus.Completed, RunTaskStatus.Failed], row.ModelCalls!.Select(c => c.Status));
        Assert.Equal(30, row.TokensTotal);
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(3, 4)]
    public async Task RepairAttempts_bounds_the_extra_calls(int repairs, int calls)
    {
        Model.Fallback = ScriptedReply.Text(Bad);
        var instanceId = await StartRatingAsync(repairs);

        var failed = Assert.IsType<ReplyFailed>(await SendAsync(instanceId, "again and again"));

        Assert.Equal(ErrorCodes.InvalidOutput, failed.Code);
        Assert.Equal(calls, Model.Requests.Count);
    }

    [Fact]
    public async Task A_repair_under_way_when_the_instance_stops_is_made_again_after_recovery_with_the_same_stream()
    {
        Model.Enqueue(ScriptedReply.Text(Bad), ScriptedReply.Text("never") with { Gate = new TaskCompletionSource().Task },
            ScriptedReply.Text(Good));
        var instanceId = await StartRatingAsync();
        await Engine.ExecuteMessageAsync(instanceId, "love it");
        await AwaitAssertAsync(() => Assert.Equal(2, Model.Requests.Count)); // the repairing call waits

        await StopEntityAsync(instanceId);
        var rebuilt = new List<ReplyEvent>();
        await foreach (var e in await Engine.OpenStreamAsync(instanceId))
            rebuilt.Add(e);

        var done = Assert.IsType<ReplyCompleted>(rebuilt[^1]);
        Assert.Equal(Good, done.Text);
        Assert.Equal(3, Model.Requests.Count);
        Assert.Equal(Bad, Model.Requests[2][^2].Text); // asked to repair the same reply again
        Assert.Equal([("chunk", 0L), ("repair", 1L), ("chunk", 2L)], rebuilt.SkipLast(1).Select(e => (Kind(e), Index(e))));
        var view = await Engine.GetInstanceAsync(instanceId);
        var row = Assert.Single((await AwaitRunAsync(view.RunTracking.RunId!, 1)).Tasks);
        Assert.Equal([0, 1], row.ModelCalls!.Select(c => c.Step)); // the call cut short by the stop is not a row
    }

    [Fact]
    public async Task RepairAttempts_out_of_range_is_refused_at_save_and_a_message_cannot_change_it()
    {
        var error = await Refused<ValidationFailedException>(() => Engine.SavePromptAsync(new PromptDefinition("r", "r",
            [new(MessageRole.System, "x")], Settings: new PromptSettings("local", RepairAttempts: 6))));
        Assert.Contains("settings.repairAttempts", error.Message);
        Assert.Contains(SettingsOverrides.Check(new PromptSettings(RepairAttempts: 2)), e => e.Contains("repairAttempts"));
    }

    private static string Kind(ReplyEvent e) => e switch
    {
        ReplyChunk => "chunk",
        ReplyRepair => "repair",
        _ => e.GetType().Name,
    };

    private static long Index(ReplyEvent e) => e switch
    {
        ReplyChunk c => c.Index,
        ReplyRepair r => r.Index,
        _ => -1,
    };
}
