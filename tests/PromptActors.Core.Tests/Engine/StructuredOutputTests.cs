using System.Text.Json;
using PromptActors.Instances;
using PromptActors.Prompts;
using PromptActors.Runs;
using PromptActors.Streaming;
using PromptActors.Testing;
using PromptActors.Tests.Support;
using Xunit.Abstractions;

namespace PromptActors.Tests.Engine;

/// <summary>responseFormat: the reply is checked against the prompt's JSON schema; a valid one's parsed JSON is the output.</summary>
public sealed class StructuredOutputTests(ITestOutputHelper output) : EngineTestKit(output)
{
    private const string Schema = """
        {"type":"object",
         "properties":{"sentiment":{"type":"string","enum":["positive","negative","neutral"]},
                       "score":{"type":"integer","minimum":1,"maximum":5},
                       "summary":{"type":"string","maxLength":40},
                       "tags":{"type":"array","items":{"type":"string"},"minItems":2}},
         "required":["sentiment","score","summary","tags"],"additionalProperties":false}
        """;

    private Task<Prompt> SaveJsonPromptAsync(string id, string model, ResponseFormat format, int? repairAttempts = null) =>
        Engine.SavePromptAsync(new PromptDefinition(id, id, [new(MessageRole.System, "Rate the review.")], Settings:
            new PromptSettings(model, ResponseFormat: format, RepairAttempts: repairAttempts)));

    private static ResponseFormat SchemaFormat => new(ResponseFormat.JsonSchemaType, "review", Schema, Strict: true);

    [Fact]
    public async Task The_local_model_answers_a_schema_with_a_valid_instance_and_its_output_is_in_the_reply_the_view_and_the_row()
    {
        await SaveJsonPromptAsync("rate", "local", SchemaFormat);
        var instance = await StartAsync("rate");

        var reply = Assert.IsType<ReplyCompleted>(await SendAsync(instance.InstanceId, "great phone, battery lasts two days"));

        var parsed = Assert.NotNull(reply.Output);
        Assert.Equal("positive", parsed.GetProperty("sentiment").GetString()); // the first of the enum
        Assert.Equal(1, parsed.GetProperty("score").GetInt32());
        Assert.True(parsed.GetProperty("summary").GetString()!.Length <= 40);
        Assert.Equal(2, parsed.GetProperty("tags").GetArrayLength());
        Assert.Empty(new PromptActors.Models.JsonSchemaValidator().Validate(Schema, parsed));
        Assert.Equal(reply.Text, JsonSerializer.Serialize(parsed));
        var view = await Engine.GetInstanceAsync(instance.InstanceId);
        Assert.Equal(reply.Text, JsonSerializer.Serialize(view.Execution.LastOutput));
        var run = await AwaitRunAsync(view.RunTracking.RunId!, 1);
        Assert.Equal(RunTaskStatus.Completed, run.Tasks[0].Status);
        Assert.Equal(reply.Text, run.Tasks[0].ResponseText);
        Assert.Equal(ResponseFormat.JsonSchemaType, run.Info.Settings.ResponseFormat!.Type);
    }

    [Fact]
    public async Task Json_without_a_schema_takes_any_json_and_refuses_text()
    {
        await SaveJsonPromptAsync("any-json", PromptActorsTestKit.ScriptedModelId, new ResponseFormat(ResponseFormat.JsonType), repairAttempts: 0);
        Model.Enqueue(ScriptedReply.Text("[1, ", "2]"), ScriptedReply.Text("Sure! Here it is: {}"));
        var instance = await StartAsync("any-json");

        var ok = Assert.IsType<ReplyCompleted>(await SendAsync(instance.InstanceId, "numbers"));
        var refused = Assert.IsType<ReplyFailed>(await SendAsync(instance.InstanceId, "again"));

        Assert.Equal(2, ok.Output!.Value.GetArrayLength());
        Assert.Equal(ErrorCodes.InvalidOutput, refused.Code);
        Assert.Contains("not JSON", refused.Detail);
        Assert.Equal("Sure! Here it is: {}", refused.PartialText); // the raw text is kept
    }

    [Fact]
    public async Task A_reply_that_breaks_the_schema_fails_invalid_output_with_the_rule_and_keeps_the_raw_text_on_the_task_row()
    {
        await SaveJsonPromptAsync("rate", PromptActorsTestKit.ScriptedModelId, SchemaFormat, repairAttempts: 0); // no repair (OutputRepairTests)
        const string bad = """{"sentiment":"ecstatic","score":9,"summary":"ok","tags":["a","b"]}""";
        Model.Enqueue(ScriptedReply.Text(bad));
        var instance = await StartAsync("rate");

        var failed = Assert.IsType<ReplyFailed>(await SendAsync(instance.InstanceId, "review"));

        Assert.Equal(ErrorCodes.InvalidOutput, failed.Code);
        Assert.Contains("/sentiment", failed.Detail);
        Assert.Contains("/score", failed.Detail);
        Assert.Equal(bad, failed.PartialText);
        var view = await Engine.GetInstanceAsync(instance.InstanceId);
        Assert.Equal(InstanceStatus.Error, view.Status);
        Assert.Null(view.Execution.LastOutput);
        Assert.Equal(ErrorCodes.InvalidOutput, view.Execution.LastError!.Code);
        var run = await AwaitRunAsync(view.RunTracking.RunId!, 1);
        Assert.Equal(RunTaskStatus.Failed, run.Tasks[0].Status);
        Assert.Equal(ErrorCodes.InvalidOutput, run.Tasks[0].ErrorCode);
        Assert.Equal(bad, run.Tasks[0].ResponseText);
        Assert.True(run.Tasks[0].Cost > 0); // the call was made and is costed
    }

    [Fact]
    public async Task The_output_survives_recovery_from_the_journal()
    {
        await SaveJsonPromptAsync("rate", "local", SchemaFormat);
        var instance = await StartAsync("rate");
        var reply = Assert.IsType<ReplyCompleted>(await SendAsync(instance.InstanceId, "fine"));

        await StopEntityAsync(instance.InstanceId);
        var view = await Engine.GetInstanceAsync(instance.InstanceId);

        Assert.Equal(reply.Text, JsonSerializer.Serialize(view.Execution.LastOutput));
    }

    [Theory]
    [InlineData("""{"type":5}""", "settings.responseFormat.schema")]
    [InlineData("""{"properties":{"a":{"minimum":"one"}}}""", "settings.responseFormat.schema")]
    [InlineData("""{"$ref":"#/$defs/missing"}""", "settings.responseFormat.schema")]
    public async Task A_schema_that_is_not_valid_json_schema_is_refused_at_save(string schema, string named)
    {
        var format = new ResponseFormat(ResponseFormat.JsonSchemaType, "bad", schema);

        var error = await Refused<ValidationFailedException>(() => SaveJsonPromptAsync("bad-schema", "local", format));

        Assert.Contains(named, error.Message);
        Assert.Null(await Engine.GetPromptAsync("bad-schema"));
    }
}
