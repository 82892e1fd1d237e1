using Microsoft.Extensions.AI;
using PromptActors.Prompts;

namespace PromptActors.Models.Tests;

public sealed class UsageAndMappingTests
{
    [Fact]
    public void Reported_usage_wins_and_an_estimate_is_flagged()
    {
        var input = new[] { new ChatMessage(ChatRole.User, "How many tokens is this?") };
        var reported = new TokenUsage(7, 3, 2);

        Assert.Same(reported, UsageEstimator.Resolve(reported, input, "ignored", TokenCounter.O200k));
        var estimate = UsageEstimator.Resolve(null, input, "Seven.", TokenCounter.O200k);
        Assert.True(estimate.Estimated);
        Assert.Equal(TokenCounter.Count("How many tokens is this?"), estimate.InputTokens);
        Assert.Equal(TokenCounter.Count("Seven."), estimate.OutputTokens);
        Assert.Equal(0, estimate.CachedInputTokens);
    }

    [Fact]
    public void A_model_without_a_token_counter_gets_an_estimate_of_four_characters_a_token_flagged_and_never_zero()
    {
        var input = new[] { new ChatMessage(ChatRole.System, "abcdefgh"), new ChatMessage(ChatRole.User, "abcdefghi") };

        var estimate = UsageEstimator.Resolve(null, input, "x");

        Assert.True(estimate.Estimated);
        Assert.Equal(2 + 3, estimate.InputTokens); // 8 characters, then 9 (rounded up)
        Assert.Equal(1, estimate.OutputTokens);
        Assert.Equal(new TokenUsage(0, 0, 0, Estimated: true), UsageEstimator.Estimate([], ""));
    }

    [Fact]
    public async Task Tool_calls_and_tool_results_in_the_input_count_as_tokens()
    {
        var user = new ChatMessage(ChatRole.User, "Where is my order?");
        var call = new ChatMessage(ChatRole.Assistant,
            [new FunctionCallContent("c1", "lookup_order", new Dictionary<string, object?> { ["orderId"] = "A-1" })]);
        var result = new ChatMessage(ChatRole.Tool, [new FunctionResultContent("c1", """{"orderId":"A-1","status":"shipped"}""")]);

        Assert.Equal("", call.Text); // what was counted before: nothing
        Assert.True(UsageEstimator.CountMessage(call, TokenCounter.O200k) >= TokenCounter.Count("lookup_order"));
        Assert.Equal(TokenCounter.Count("""{"orderId":"A-1","status":"shipped"}"""), UsageEstimator.CountMessage(result, TokenCounter.O200k));
        var withTools = UsageEstimator.Estimate([user, call, result], "", TokenCounter.O200k).InputTokens;
        Assert.True(withTools > UsageEstimator.Estimate([user], "", TokenCounter.O200k).InputTokens + 10);
        // And the local model reports the same input.
        var local = new LocalChatClient(new LocalModelOptions());
        var usage = (await local.GetResponseAsync([user, call, result])).Usage!;
        Assert.Equal(withTools, usage.InputTokenCount);
    }

    [Fact]
    public void The_last_reported_usage_is_taken_from_the_updates()
    {
        ChatResponseUpdate[] updates =
        [
            new(ChatRole.Assistant, "a"),
            new() { Contents = [new UsageContent(new UsageDetails { InputTokenCount = 1, OutputTokenCount = 1 })] },
            new() { Contents = [new UsageContent(new UsageDetails { InputTokenCount = 9, OutputTokenCount = 4, CachedInputTokenCount = 5 })] },
        ];

        Assert.Equal(new TokenUsage(9, 4, 5), UsageEstimator.Reported(updates));
        Assert.Null(UsageEstimator.Reported([new ChatResponseUpdate(ChatRole.Assistant, "a")]));
    }

    [Fact]
    public void Cost_comes_from_the_price_table()
    {
        var pricing = new ModelPricing(InputPerMillion: 3m, OutputPerMillion: 15m, CachedInputPerMillion: 0.3m);

        // 1 000 uncached × 3 + 1 000 cached × 0.3 + 800 out × 15, per million.
        Assert.Equal(0.0153m, CostCalculator.Compute(new TokenUsage(2_000, 800, 1_000), pricing));
        Assert.Equal(0m, CostCalculator.Compute(new TokenUsage(2_000, 800), ModelPricing.Free));
    }

    [Fact]
    public void Prompt_settings_map_onto_chat_options()
    {
        var options = ChatOptionsMapper.ToChatOptions(new PromptSettings("gpt", 0.7, 0.95, 256, ["\n\n"]), "gpt");

        Assert.Equal("gpt", options.ModelId);
        Assert.Equal(0.7f, options.Temperature);
        Assert.Equal(0.95f, options.TopP);
        Assert.Equal(256, options.MaxOutputTokens);
        Assert.Equal(["\n\n"], options.StopSequences!);
        var more = ChatOptionsMapper.ToChatOptions(new PromptSettings("gpt", TopK: 40, Seed: 7, FrequencyPenalty: 1.5, PresencePenalty: -1), "gpt");
        Assert.Equal(40, more.TopK);
        Assert.Equal(7L, more.Seed);
        Assert.Equal(1.5f, more.FrequencyPenalty);
        Assert.Equal(-1f, more.PresencePenalty);

        var empty = ChatOptionsMapper.ToChatOptions(PromptSettings.Default, "local");
        Assert.Null(empty.Temperature);
        Assert.Null(empty.TopP);
        Assert.Null(empty.MaxOutputTokens);
        Assert.Null(empty.StopSequences);
    }

    [Theory]
    [InlineData("30s", 30_000)]
    [InlineData("500ms", 500)]
    [InlineData("2m", 120_000)]
    [InlineData("00:00:30", 30_000)]
    [InlineData("0.5s", 500)]
    public void Durations_read_from_configuration(string text, double milliseconds)
    {
        Assert.True(ModelRegistryFactory.TryDuration(text, out var value));
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), value);
    }
}
