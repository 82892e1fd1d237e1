using System.Text.Json;
using PromptActors.Models;
using PromptActors.Models.Tests.Support;
using PromptActors.Prompts;

namespace PromptActors.Models.Tests;

/// <summary>What the OpenAI-compatible provider puts on the wire for the response format, reasoning and pass-through settings.</summary>
public sealed class StructuredOutputWireTests
{
    private const string Schema = """
        {"type":"object","properties":{"sentiment":{"type":"string","enum":["positive","negative"]},"score":{"type":"number"}},
         "required":["sentiment","score"],"additionalProperties":false}
        """;

    [Fact]
    public async Task A_json_schema_a_reasoning_effort_and_pass_through_properties_reach_the_server()
    {
        await using var server = await FakeOpenAIServer.StartAsync();
        var gpt = TestModels.Gpt(server);
        var settings = new PromptSettings(
            ResponseFormat: new ResponseFormat(ResponseFormat.JsonSchemaType, "sentiment", Schema, Strict: true, Description: "The verdict"),
            ReasoningEffort: "low",
            AdditionalProperties: new Dictionary<string, string>
            {
                ["service_tier"] = "\"flex\"",
                ["metadata"] = """{"team":"support"}""",
            });

        var result = await TestModels.CollectAsync(gpt.Client, ChatOptionsMapper.ToChatOptions(settings, gpt.Id));

        Assert.Null(result.Error);
        var body = Assert.Single(server.Requests).Body;
        var format = body["response_format"]!;
        Assert.Equal("json_schema", (string?)format["type"]);
        Assert.Equal("sentiment", (string?)format["json_schema"]!["name"]);
        Assert.Equal("The verdict", (string?)format["json_schema"]!["description"]);
        Assert.True((bool)format["json_schema"]!["strict"]!);
        Assert.Equal("object", (string?)format["json_schema"]!["schema"]!["type"]);
        Assert.Equal(["sentiment", "score"], format["json_schema"]!["schema"]!["required"]!.AsArray().Select(n => (string)n!));
        Assert.Equal("low", (string?)body["reasoning_effort"]);
        Assert.Equal("flex", (string?)body["service_tier"]);
        Assert.Equal("support", (string?)body["metadata"]!["team"]);
        Assert.False(body.ContainsKey("strict"));
    }

    [Fact]
    public async Task Json_without_a_schema_is_json_object_mode()
    {
        await using var server = await FakeOpenAIServer.StartAsync();
        var gpt = TestModels.Gpt(server);

        await TestModels.CollectAsync(gpt.Client,
            ChatOptionsMapper.ToChatOptions(new PromptSettings(ResponseFormat: new ResponseFormat(ResponseFormat.JsonType)), gpt.Id));

        Assert.Equal("json_object", (string?)Assert.Single(server.Requests).Body["response_format"]!["type"]);
    }
}
