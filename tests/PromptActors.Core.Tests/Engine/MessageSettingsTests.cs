using PromptActors.Prompts;
using PromptActors.Streaming;
using PromptActors.Tests.Support;
using Xunit.Abstractions;

namespace PromptActors.Tests.Engine;

/// <summary>A message's own settings: allowlisted, used for its turn only, recorded on its task.</summary>
public sealed class MessageSettingsTests(ITestOutputHelper output) : EngineTestKit(output)
{
    private async Task<string> StartChatAsync()
    {
        await Engine.SavePromptAsync(new PromptDefinition("tuned", "tuned", [new(MessageRole.System, "Be brief.")],
            Settings: new PromptSettings("scripted", Temperature: 0.9, MaxTokens: 500, Seed: 1)));
        return (await StartAsync("tuned", new PromptActors.Instances.ExecutionConfig(AllowChat: true))).InstanceId;
    }

    [Fact]
    public async Task A_message_s_settings_apply_to_its_turn_only_and_its_task_row_keeps_them()
    {
        var id = await StartChatAsync();

        await Engine.ExecuteMessageAsync(id, "first", null, new PromptSettings(Temperature: 0.1, ReasoningEffort: "high", Stop: ["END"]));
        Assert.IsType<ReplyCompleted>(await Engine.WaitForReplyAsync(id));
        Assert.IsType<ReplyCompleted>(await SendAsync(id, "second"));

        var (first, second) = (Model.Options[0]!, Model.Options[1]!);
        Assert.Equal(0.1f, first.Temperature);
        Assert.Equal(500, first.MaxOutputTokens); // the prompt's, not overridden
        Assert.Equal(1, first.Seed);
        Assert.Equal(["END"], first.StopSequences!);
        Assert.Equal(Microsoft.Extensions.AI.ReasoningEffort.High, first.Reasoning!.Effort);
        Assert.Equal(0.9f, second.Temperature); // the next turn is back to the prompt's
        Assert.Null(second.Reasoning);

        var view = await Engine.GetInstanceAsync(id);
        await AwaitAssertAsync(async () =>
            Assert.Equal(2, (await Engine.GetRunAsync(view.RunTracking.RunId!))!.Tasks.Count(t => t.IsTerminal)));
        var tasks = (await Engine.GetRunAsync(view.RunTracking.RunId!))!.Tasks;
        Assert.Equal(0.1, tasks[0].Settings!.Temperature);
        Assert.Equal("high", tasks[0].Settings!.ReasoningEffort);
        Assert.Null(tasks[1].Settings);
    }

    [Fact]
    public async Task The_settings_survive_recovery_with_their_task()
    {
        var id = await StartChatAsync();
        var streamed = await Engine.ExecuteMessageStreamAsync(id, "hi", null, new PromptSettings(TopP: 0.3));
        await foreach (var _ in streamed.Events)
        {
        }

        await StopEntityAsync(id);
        var view = await Engine.GetInstanceAsync(id);

        Assert.Equal(0.3f, Model.Options[0]!.TopP);
        var run = await Engine.GetRunAsync(view.RunTracking.RunId!);
        Assert.Equal(0.3, run!.Tasks.Single().Settings!.TopP);
    }

    [Theory]
    [InlineData("model")]
    [InlineData("responseFormat")]
    [InlineData("additionalProperties")]
    [InlineData("temperature")]
    public async Task A_field_outside_the_allowlist_or_out_of_range_is_refused_and_nothing_runs(string field)
    {
        var id = await StartChatAsync();
        var settings = field switch
        {
            "model" => new PromptSettings(Model: "local"),
            "responseFormat" => new PromptSettings(ResponseFormat: new ResponseFormat(ResponseFormat.JsonType)),
            "additionalProperties" => new PromptSettings(AdditionalProperties: new Dictionary<string, string> { ["service_tier"] = "\"flex\"" }),
            _ => new PromptSettings(Temperature: 9),
        };

        var error = await Refused<ValidationFailedException>(() => Engine.ExecuteMessageAsync(id, "x", null, settings));

        Assert.Contains("settings." + field, error.Message);
        Assert.Empty(Model.Requests);
        Assert.Null((await Engine.GetInstanceAsync(id)).Execution.LastTaskId);
    }
}
