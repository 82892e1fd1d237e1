using System.Text.Json;
using Microsoft.Extensions.AI;

namespace PromptActors.Models.Tests;

/// <summary>The local model asked for JSON: a deterministic, valid instance of the schema.</summary>
public sealed class LocalJsonTests
{
    private static readonly JsonSchemaValidator Validator = new();

    [Theory]
    [InlineData("""{"type":"object","properties":{"a":{"type":"string"},"n":{"type":"integer","minimum":3,"maximum":9}},"required":["a","n"]}""")]
    [InlineData("""{"type":"array","items":{"type":"number","exclusiveMinimum":0.5},"minItems":3,"maxItems":4}""")]
    [InlineData("""{"type":"string","format":"date-time"}""")]
    [InlineData("""{"type":"string","minLength":60,"maxLength":80}""")]
    [InlineData("""{"enum":["b","c"]}""")]
    [InlineData("""{"const":{"fixed":true}}""")]
    [InlineData("""{"anyOf":[{"type":"boolean"},{"type":"string"}]}""")]
    [InlineData("""{"type":["null","integer"],"exclusiveMaximum":0}""")]
    [InlineData("""{"$defs":{"item":{"type":"object","properties":{"id":{"type":"string","format":"uuid"}},"required":["id"]}},"type":"object","properties":{"items":{"type":"array","items":{"$ref":"#/$defs/item"}}},"required":["items"],"additionalProperties":false}""")]
    [InlineData("""{"type":"object","properties":{"email":{"type":"string","format":"email"},"tags":{"type":"array","prefixItems":[{"type":"integer"},{"type":"boolean"}]}},"required":["email","tags","extra"]}""")]
    public async Task Every_reply_is_valid_for_its_schema_and_the_same_each_time(string schema)
    {
        var first = await ReplyAsync(schema, "three little words");
        var second = await ReplyAsync(schema, "three little words");

        Assert.Equal(first, second);
        using var parsed = JsonDocument.Parse(first);
        Assert.Empty(Validator.Validate(schema, parsed.RootElement));
    }

    [Fact]
    public async Task Json_without_a_schema_is_an_object_with_the_echoed_reply()
    {
        var client = new LocalChatClient();
        var response = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "hello \"world\"")],
            new ChatOptions { ResponseFormat = ChatResponseFormat.Json });

        using var parsed = JsonDocument.Parse(response.Text);
        Assert.Equal("hello \"world\"", parsed.RootElement.GetProperty("reply").GetString());
    }

    [Fact]
    public async Task The_json_streams_in_chunks_that_join_to_the_document()
    {
        var client = new LocalChatClient();
        const string schema = """{"type":"object","properties":{"summary":{"type":"string"}},"required":["summary"]}""";
        var chunks = new List<string>();
        await foreach (var update in client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "a b c d")],
                           Options(schema)))
        {
            if (update.Text is { Length: > 0 } text)
                chunks.Add(text);
        }

        Assert.True(chunks.Count > 1);
        Assert.Equal("""{"summary":"a b c d"}""", string.Concat(chunks));
    }

    [Fact]
    public void The_validator_names_the_location_and_rule_of_each_error_and_checks_schemas()
    {
        const string schema = """{"type":"object","properties":{"n":{"type":"integer"}},"required":["n","m"]}""";
        using var reply = JsonDocument.Parse("""{"n":"seven"}""");

        var errors = Validator.Validate(schema, reply.RootElement);

        Assert.Contains(errors, e => e.StartsWith("/n: type", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("/: required", StringComparison.Ordinal));
        Assert.NotEmpty(Validator.CheckSchema("""{"type":"integer","minimum":"one"}"""));
        Assert.Empty(Validator.CheckSchema(schema));
    }

    private static ChatOptions Options(string schema)
    {
        using var doc = JsonDocument.Parse(schema);
        return new ChatOptions { ResponseFormat = ChatResponseFormat.ForJsonSchema(doc.RootElement.Clone(), "test") };
    }

    private static async Task<string> ReplyAsync(string schema, string input) =>
        (await new LocalChatClient().GetResponseAsync([new ChatMessage(ChatRole.User, input)], Options(schema))).Text;
}
