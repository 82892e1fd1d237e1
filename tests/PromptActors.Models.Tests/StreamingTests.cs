using Microsoft.Extensions.AI;
using PromptActors.Models.Tests.Support;
using PromptActors.Prompts;

namespace PromptActors.Models.Tests;

/// <summary>Streaming through the real OpenAI .NET client built by <see cref="ModelRegistryFactory"/>.</summary>
public sealed class StreamingTests
{
    [Fact]
    public async Task Chunks_stream_in_order_as_the_server_sends_them_with_the_servers_usage_and_cost()
    {
        await using var server = await FakeOpenAIServer.StartAsync();
        var release = new TaskCompletionSource();
        server.Script(new Reply
        {
            Chunks = ["The", " quick", " brown", " fox"],
            Usage = new FakeUsage(PromptTokens: 1_000, CompletionTokens: 500, CachedTokens: 200),
            HoldAfter = 2,
            Hold = release.Task,
        });
        var gpt = TestModels.Gpt(server, o =>
        {
            o.InputPerMillion = 2.5m;
            o.OutputPerMillion = 10m;
            o.CachedInputPerMillion = 1.25m;
        });

        var updates = new List<ChatResponseUpdate>();
        var texts = new List<string>();
        await foreach (var update in gpt.Client.GetStreamingResponseAsync(TestModels.Chat))
        {
            updates.Add(update);
            if (update.Text.Length > 0)
                texts.Add(update.Text);
            // The server holds the rest until the consumer has seen the first two chunks: this is real streaming.
            if (texts.Count == 2)
                release.TrySetResult();
        }

        Assert.Equal(["The", " quick", " brown", " fox"], texts);
        var usage = UsageEstimator.Reported(updates);
        Assert.Equal(new TokenUsage(1_000, 500, 200), usage);
        Assert.False(usage!.Estimated);
        Assert.Equal(usage, UsageEstimator.ForStream(updates, TestModels.Chat));
        // 800 uncached × 2.5 + 200 cached × 1.25 + 500 out × 10, per million.
        Assert.Equal(0.00725m, CostCalculator.Compute(usage, gpt.Pricing));
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task Usage_is_estimated_with_o200k_when_the_server_reports_none()
    {
        await using var server = await FakeOpenAIServer.StartAsync();
        server.Script(Reply.Text("Hello", ", ", "world", "!"));
        var gpt = TestModels.Gpt(server, o =>
        {
            o.InputPerMillion = 1_000m;
            o.OutputPerMillion = 2_000m;
        });

        var result = await TestModels.CollectAsync(gpt.Client);

        Assert.Null(result.Error);
        Assert.Equal("Hello, world!", result.Text);
        Assert.Null(UsageEstimator.Reported(result.Updates));
        Assert.Same(TokenCounter.O200k, gpt.Tokens); // the registry gives its models the o200k tokenizer
        var usage = UsageEstimator.ForStream(result.Updates, TestModels.Chat, gpt.Tokens);
        Assert.True(usage.Estimated);
        var expectedInput = TokenCounter.Count("You are terse.") + TokenCounter.Count("Say hello to the world");
        Assert.Equal(expectedInput, usage.InputTokens);
        Assert.Equal(TokenCounter.Count("Hello, world!"), usage.OutputTokens);
        Assert.True(usage.InputTokens > 0 && usage.OutputTokens > 0);
        Assert.Equal(UsageEstimator.Estimate(TestModels.Chat, "Hello, world!", gpt.Tokens), usage);
        Assert.Equal(Math.Round((usage.InputTokens * 1_000m + usage.OutputTokens * 2_000m) / 1_000_000m, 6),
            CostCalculator.Compute(usage, gpt.Pricing));
    }

    [Fact]
    public async Task Prompt_settings_reach_the_server_with_the_providers_model_name_and_include_usage()
    {
        await using var server = await FakeOpenAIServer.StartAsync();
        var gpt = TestModels.Gpt(server);
        var settings = new PromptSettings(Temperature: 0.25, TopP: 0.5, MaxTokens: 64, Stop: ["END", "STOP"], Seed: 42,
            FrequencyPenalty: 0.5, PresencePenalty: -0.5);

        var result = await TestModels.CollectAsync(gpt.Client, ChatOptionsMapper.ToChatOptions(settings, gpt.Id));

        Assert.Null(result.Error);
        var body = Assert.Single(server.Requests).Body;
        Assert.Equal("/v1/chat/completions", server.Requests[0].Path);
        Assert.Equal("gpt-4o-mini", (string?)body["model"]); // the provider's name, not the registry id "gpt"
        Assert.Equal(0.25, (double)body["temperature"]!, 5);
        Assert.Equal(0.5, (double)body["top_p"]!, 5);
        Assert.Equal(64, (int)body["max_completion_tokens"]!);
        Assert.Equal(["END", "STOP"], body["stop"]!.AsArray().Select(n => (string)n!));
        Assert.Equal(42, (long)body["seed"]!);
        Assert.Equal(0.5, (double)body["frequency_penalty"]!, 5);
        Assert.Equal(-0.5, (double)body["presence_penalty"]!, 5);
        Assert.True((bool)body["stream"]!);
        Assert.True((bool)body["stream_options"]!["include_usage"]!);
        var messages = body["messages"]!.AsArray();
        Assert.Equal(["system", "user"], messages.Select(m => (string)m!["role"]!));
        Assert.Equal("Say hello to the world", (string?)messages[1]!["content"]);
    }

    [Fact]
    public async Task Unset_settings_are_left_to_the_provider()
    {
        await using var server = await FakeOpenAIServer.StartAsync();
        var gpt = TestModels.Gpt(server);

        await TestModels.CollectAsync(gpt.Client, ChatOptionsMapper.ToChatOptions(PromptSettings.Default, gpt.Id));

        var body = Assert.Single(server.Requests).Body;
        foreach (var absent in new[] { "temperature", "top_p", "max_completion_tokens", "max_tokens", "stop" })
            Assert.False(body.ContainsKey(absent), absent);
        Assert.True((bool)body["stream_options"]!["include_usage"]!);
    }

    [Fact]
    public async Task A_non_streaming_call_goes_through_the_same_pipeline_and_retries()
    {
        await using var server = await FakeOpenAIServer.StartAsync();
        server.Script(Reply.Fail(503), new Reply { Chunks = ["one", " two"], Usage = new FakeUsage(3, 2) });
        var gpt = TestModels.Gpt(server);

        var response = await gpt.Client.GetResponseAsync(TestModels.Chat, new ChatOptions { ModelId = gpt.Id, MaxOutputTokens = 9 });

        Assert.Equal("one two", response.Text);
        Assert.Equal(2, server.Requests.Count);
        Assert.False((bool?)server.Requests[1].Body["stream"] ?? false);
        Assert.Equal("gpt-4o-mini", (string?)server.Requests[1].Body["model"]);
        Assert.Equal(3, response.Usage?.InputTokenCount);
    }
}
