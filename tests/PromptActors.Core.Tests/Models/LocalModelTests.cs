using Microsoft.Extensions.AI;
using Microsoft.Extensions.Time.Testing;
using PromptActors.Models;

namespace PromptActors.Tests.Models;

public sealed class LocalModelTests
{
    private static readonly ChatMessage[] Chat =
    [
        new(ChatRole.System, "You are terse."),
        new(ChatRole.User, "tell me about Paris museums"),
    ];

    [Fact]
    public async Task Local_model_streams_the_last_user_message_word_by_word_deterministically()
    {
        var client = new LocalChatClient();
        var first = await client.GetStreamingResponseAsync(Chat).ToListAsync();
        var second = await client.GetStreamingResponseAsync(Chat).ToListAsync();

        var words = first.Where(u => u.Text.Length > 0).Select(u => u.Text).ToArray();
        Assert.Equal(new[] { "tell", " me", " about", " Paris", " museums" }, words);
        Assert.Equal(words, second.Where(u => u.Text.Length > 0).Select(u => u.Text));
        Assert.Equal("tell me about Paris museums", client.ReplyFor(Chat));
    }

    [Fact]
    public async Task Local_model_reports_usage_counted_with_the_o200k_tokenizer()
    {
        var updates = await new LocalChatClient().GetStreamingResponseAsync(Chat).ToListAsync();
        var usage = updates.SelectMany(u => u.Contents).OfType<UsageContent>().Single().Details;

        Assert.Equal(TokenCounter.Count("You are terse.") + TokenCounter.Count("tell me about Paris museums"), usage.InputTokenCount);
        Assert.Equal(TokenCounter.Count("tell me about Paris museums"), usage.OutputTokenCount);
        Assert.Equal(usage.InputTokenCount + usage.OutputTokenCount, usage.TotalTokenCount);
        Assert.Equal(5, TokenCounter.Count("tell me about Paris museums"));
    }

    [Fact]
    public async Task Local_model_can_give_replies_of_a_fixed_length_and_respects_max_tokens()
    {
        var client = new LocalChatClient(new LocalModelOptions { ReplyWords = 60 });
        var text = (await client.GetResponseAsync(Chat)).Text;
        Assert.Equal(60, text.Split(' ').Length);

        var capped = await client.GetResponseAsync(Chat, new ChatOptions { MaxOutputTokens = 3 });
        Assert.Equal("tell me about", capped.Text);
    }

    [Fact]
    public async Task Local_model_delay_is_driven_by_the_time_provider_and_cancellation_stops_it()
    {
        var clock = new FakeTimeProvider();
        var client = new LocalChatClient(new LocalModelOptions { WordDelay = TimeSpan.FromSeconds(1) }, clock);
        using var cts = new CancellationTokenSource();
        var received = new List<string>();
        var arrived = new SemaphoreSlim(0);
        var reading = Task.Run(async () =>
        {
            await foreach (var u in client.GetStreamingResponseAsync(Chat, cancellationToken: cts.Token))
            {
                received.Add(u.Text);
                arrived.Release();
            }
        });

        Assert.False(await arrived.WaitAsync(TimeSpan.FromMilliseconds(50))); // nothing before the clock moves
        for (var i = 0; i < 2; i++)
        {
            // Each second of fake time releases one word (the next delay starts only after a word is read).
            var attempts = 0;
            while (!await arrived.WaitAsync(TimeSpan.FromMilliseconds(20)))
            {
                Assert.True(++attempts < 250, "the word never arrived");
                clock.Advance(TimeSpan.FromSeconds(1));
            }
        }
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => reading);
        Assert.Equal(new[] { "tell", " me" }, received);
    }

    [Fact]
    public void Cost_uses_the_price_table_with_six_decimals()
    {
        var pricing = new ModelPricing(InputPerMillion: 2.5m, OutputPerMillion: 10m, CachedInputPerMillion: 1.25m);
        Assert.Equal(0.0035m, CostCalculator.Compute(new TokenUsage(1000, 100), pricing));
        Assert.Equal(0.002375m, CostCalculator.Compute(new TokenUsage(1000, 0, CachedInputTokens: 100), pricing)); // 900 × 2.5 + 100 × 1.25
        Assert.Equal(0.000001m, CostCalculator.Compute(new TokenUsage(0, 1, 0), new ModelPricing(OutputPerMillion: 1.4m)));
        Assert.Equal(0m, CostCalculator.Compute(new TokenUsage(5000, 5000), ModelPricing.Free));
    }
}
