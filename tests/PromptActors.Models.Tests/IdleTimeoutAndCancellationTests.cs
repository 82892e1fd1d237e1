using Microsoft.Extensions.AI;
using Microsoft.Extensions.Time.Testing;
using PromptActors.Models.Tests.Support;
using PromptActors.Testing;

namespace PromptActors.Models.Tests;

public sealed class IdleTimeoutAndCancellationTests
{
    [Fact]
    public async Task A_stream_that_stalls_midway_fails_with_a_TimeoutException_and_the_request_is_closed()
    {
        await using var server = await FakeOpenAIServer.StartAsync();
        server.Script(new Reply { Chunks = ["still", " here", " never"], StallAfter = 2 });
        // The idle clock is a fake one, advanced once the consumer has both chunks: the partial output is
        // deterministic however slow the machine is. (The next test uses the real clock.)
        var time = new FakeTimeProvider();
        var gpt = TestModels.Gpt(server, o => o.IdleTimeout = TimeSpan.FromMilliseconds(300), time: time);

        var texts = new List<string>();
        await using var stream = gpt.Client.GetStreamingResponseAsync(TestModels.Chat).GetAsyncEnumerator();
        while (texts.Count < 2)
        {
            Assert.True(await stream.MoveNextAsync().AsTask().Within());
            if (stream.Current.Text.Length > 0)
                texts.Add(stream.Current.Text);
        }
        var next = stream.MoveNextAsync().AsTask();
        time.Advance(TimeSpan.FromMilliseconds(299));
        Assert.False(next.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(1));

        var error = await Assert.ThrowsAsync<TimeoutException>(() => next).Within();
        Assert.Equal(["still", " here"], texts);
        Assert.Equal("model 'gpt' produced nothing for 00:00:00.3000000", error.Message);
        Assert.Same(error, error.GetBaseException());
        await server.Requests[0].Aborted.Within(); // the provider saw the request go away
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task A_server_that_never_answers_fails_after_the_real_idle_timeout_without_retrying()
    {
        await using var server = await FakeOpenAIServer.StartAsync();
        server.Script(Reply.Text("warm-up"), new Reply { StallAfter = -1 });
        // A first call, with a generous timeout, pays for JIT and the connection, so the stalled request surely
        // reaches the server within the 300 ms below.
        Assert.Null((await TestModels.CollectAsync(TestModels.Gpt(server).Client).Within()).Error);
        var gpt = TestModels.Gpt(server, o => o.IdleTimeout = TimeSpan.FromMilliseconds(300));

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var result = await TestModels.CollectAsync(gpt.Client).Within();

        Assert.Empty(result.Updates);
        Assert.Equal("model 'gpt' produced nothing for 00:00:00.3000000", Assert.IsType<TimeoutException>(result.Error).Message);
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(290), $"timed out after {clock.Elapsed}");
        Assert.Equal(2, server.Requests.Count); // idle timeouts are not retried
        await server.Requests[1].Aborted.Within();
    }

    [Fact]
    public async Task Cancelling_closes_the_request_on_the_server_and_is_not_retried()
    {
        await using var server = await FakeOpenAIServer.StartAsync();
        server.Script(new Reply { Chunks = ["one", " two", " three"], StallAfter = 2 });
        var logs = new CapturingLoggerFactory();
        var gpt = TestModels.Gpt(server, logs: logs);
        using var cts = new CancellationTokenSource();

        var texts = new List<string>();
        var cancelled = await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var update in gpt.Client.GetStreamingResponseAsync(TestModels.Chat, cancellationToken: cts.Token))
            {
                if (update.Text.Length > 0)
                    texts.Add(update.Text);
                if (texts.Count == 2)
                    await cts.CancelAsync();
            }
        }).Within();

        Assert.Equal(["one", " two"], texts);
        await server.Requests[0].Aborted.Within();
        Assert.Single(server.Requests);
        Assert.Contains(logs.Records, r => r.Contains("Model gpt: cancelled after") && r.Contains("2 updates"));
        Assert.NotNull(cancelled);
    }

    [Fact]
    public async Task Cancelling_before_the_first_update_is_not_retried()
    {
        await using var server = await FakeOpenAIServer.StartAsync();
        server.Script(new Reply { StallAfter = -1 });
        var gpt = TestModels.Gpt(server);
        using var cts = new CancellationTokenSource();

        var call = TestModels.CollectAsync(gpt.Client, cancellationToken: cts.Token);
        await server.FirstRequestReceived.Within();
        await cts.CancelAsync();
        var result = await call.Within();

        Assert.IsAssignableFrom<OperationCanceledException>(result.Error);
        await server.Requests[0].Aborted.Within();
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task The_idle_clock_runs_only_while_waiting_for_the_provider()
    {
        var time = new FakeTimeProvider();
        var inner = new ScriptedChatClient(time).Enqueue(new ScriptedReply { Chunks = ["a", "b"], Usage = null });
        using var client = new IdleTimeoutChatClient(inner, TimeSpan.FromSeconds(5), time);

        await using var stream = client.GetStreamingResponseAsync(TestModels.Chat).GetAsyncEnumerator();
        Assert.True(await stream.MoveNextAsync());
        time.Advance(TimeSpan.FromHours(1)); // a slow consumer holding the first update
        Assert.True(await stream.MoveNextAsync());
        Assert.Equal("b", stream.Current.Text);
        Assert.False(await stream.MoveNextAsync());
    }

    [Fact]
    public async Task The_idle_clock_fires_on_the_time_provider_and_cancels_the_inner_call()
    {
        var time = new FakeTimeProvider();
        var inner = new TokenRecordingChatClient(
            new ScriptedChatClient(time).Enqueue(new ScriptedReply { Chunks = ["a", "b"], ChunkDelay = TimeSpan.FromSeconds(10) }));
        using var client = new IdleTimeoutChatClient(inner, TimeSpan.FromSeconds(5), time);

        await using var stream = client.GetStreamingResponseAsync(TestModels.Chat).GetAsyncEnumerator();
        var first = stream.MoveNextAsync().AsTask();
        time.Advance(TimeSpan.FromSeconds(4));
        Assert.False(first.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(1));

        var error = await Assert.ThrowsAsync<TimeoutException>(() => first).Within();
        Assert.Equal("the model produced nothing for 00:00:05", error.Message);
        Assert.True(inner.Token.IsCancellationRequested); // the call towards the provider was cancelled
    }

    [Fact]
    public async Task A_non_streaming_call_that_takes_longer_than_the_idle_timeout_fails()
    {
        var time = new FakeTimeProvider();
        var inner = new ScriptedChatClient(time).Enqueue(new ScriptedReply { Chunks = ["late"], ChunkDelay = TimeSpan.FromSeconds(30) });
        using var client = new IdleTimeoutChatClient(inner, TimeSpan.FromSeconds(5), time, "slow");

        var call = client.GetResponseAsync(TestModels.Chat);
        time.Advance(TimeSpan.FromSeconds(5));

        var error = await Assert.ThrowsAsync<TimeoutException>(() => call).Within();
        Assert.Equal("model 'slow' produced nothing for 00:00:05", error.Message);
    }

    /// <summary>Remembers the token the layer above passed down.</summary>
    private sealed class TokenRecordingChatClient(IChatClient inner) : DelegatingChatClient(inner)
    {
        public CancellationToken Token { get; private set; }

        public override IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages,
            ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            Token = cancellationToken;
            return base.GetStreamingResponseAsync(messages, options, cancellationToken);
        }
    }
}
