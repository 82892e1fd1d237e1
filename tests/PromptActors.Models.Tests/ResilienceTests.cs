using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.AI;
using PromptActors.Models.Tests.Support;

namespace PromptActors.Models.Tests;

/// <summary>Retries before the first update, none after, through the real OpenAI client.</summary>
public sealed class ResilienceTests
{
    [Fact]
    public async Task A_429_with_Retry_After_is_retried_once_after_the_delay_the_server_asked_for()
    {
        await using var server = await FakeOpenAIServer.StartAsync();
        server.Script(Reply.Fail(429, retryAfter: "1", message: "rate limited"), Reply.Text("after", " the wait"));
        var logs = new CapturingLoggerFactory();
        var gpt = TestModels.Gpt(server, logs: logs);

        var clock = Stopwatch.StartNew();
        var result = await TestModels.CollectAsync(gpt.Client).Within();

        Assert.Null(result.Error);
        Assert.Equal("after the wait", result.Text);
        Assert.Equal(2, server.Requests.Count);
        // Retry-After: 1 is honoured instead of the 10 ms backoff configured for the test.
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(900), $"retried after {clock.Elapsed}");
        Assert.Contains(logs.Records, r => r.Contains("attempt 1 failed (HTTP 429 (Too Many Requests)); retrying in 00:00:01"));
    }

    [Fact]
    public async Task Three_500s_then_success_succeeds_with_MaxRetries_3()
    {
        await using var server = await FakeOpenAIServer.StartAsync();
        server.Script(Reply.Fail(500), Reply.Fail(502), Reply.Fail(500), Reply.Text("finally"));
        var gpt = TestModels.Gpt(server, o => o.MaxRetries = 3);

        var result = await TestModels.CollectAsync(gpt.Client).Within();

        Assert.Null(result.Error);
        Assert.Equal("finally", result.Text);
        Assert.Equal(4, server.Requests.Count);
    }

    [Fact]
    public async Task Four_500s_fail_after_a_bounded_number_of_attempts_with_a_clear_message()
    {
        await using var server = await FakeOpenAIServer.StartAsync();
        server.Script(Reply.Fail(500, message: "the upstream is down"));
        var gpt = TestModels.Gpt(server, o => o.MaxRetries = 3);

        var result = await TestModels.CollectAsync(gpt.Client).Within();

        var error = Assert.IsType<ModelProviderException>(result.Error);
        Assert.Equal("model 'gpt': provider returned HTTP 500 (Internal Server Error) after 4 attempts: the upstream is down", error.Message);
        Assert.Equal(500, error.StatusCode);
        Assert.Equal(4, error.Attempts);
        Assert.Equal(0, error.UpdatesReceived);
        Assert.Same(error, error.GetBaseException()); // what the engine reports is this message
        Assert.Equal(4, server.Requests.Count);
        Assert.Empty(result.Updates);
    }

    [Theory]
    [InlineData(400, "Bad Request")]
    [InlineData(401, "Unauthorized")]
    [InlineData(404, "Not Found")]
    public async Task Client_errors_are_not_retried(int status, string reason)
    {
        await using var server = await FakeOpenAIServer.StartAsync();
        server.Script(Reply.Fail(status, message: "you asked for something wrong"));
        var gpt = TestModels.Gpt(server);

        var result = await TestModels.CollectAsync(gpt.Client).Within();

        var error = Assert.IsType<ModelProviderException>(result.Error);
        Assert.Equal($"model 'gpt': provider returned HTTP {status} ({reason}) (not retried): you asked for something wrong", error.Message);
        Assert.False(error.Transient);
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task A_Retry_After_longer_than_we_wait_fails_at_once()
    {
        await using var server = await FakeOpenAIServer.StartAsync();
        server.Script(Reply.Fail(429, retryAfter: "3600", message: "quota exceeded"));
        var gpt = TestModels.Gpt(server);

        var result = await TestModels.CollectAsync(gpt.Client).Within();

        var error = Assert.IsType<ModelProviderException>(result.Error);
        Assert.Contains("HTTP 429 (Too Many Requests) asking to retry after 01:00:00, longer than the 00:01:00 we wait", error.Message);
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task A_connection_dropped_after_5_chunks_gives_5_chunks_then_an_error_and_no_retry()
    {
        await using var server = await FakeOpenAIServer.StartAsync();
        var read5 = new TaskCompletionSource();
        server.Script(new Reply
        {
            Chunks = ["1", "2", "3", "4", "5", "6", "7", "8"],
            Usage = new FakeUsage(5, 8),
            // The server drops the connection once the consumer has read five chunks.
            HoldAfter = 5,
            Hold = read5.Task,
            DropAfter = 5,
        }, Reply.Text("a retry would have produced this"));
        var gpt = TestModels.Gpt(server);

        var texts = new List<string>();
        Exception? error = null;
        try
        {
            await foreach (var update in gpt.Client.GetStreamingResponseAsync(TestModels.Chat))
            {
                if (update.Text.Length > 0)
                    texts.Add(update.Text);
                if (texts.Count == 5)
                    read5.TrySetResult();
            }
        }
        catch (Exception ex)
        {
            error = ex;
        }

        Assert.Equal(["1", "2", "3", "4", "5"], texts);
        var failure = Assert.IsType<ModelProviderException>(error);
        Assert.StartsWith("model 'gpt': the stream broke after 5 updates (not retried once output has streamed): ", failure.Message);
        Assert.Contains(Chain(failure), e => e is IOException or SocketException); // the transport's error is kept inside
        Assert.Equal(5, failure.UpdatesReceived);
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task An_unreachable_server_is_retried_then_reported()
    {
        // A port nothing listens on: every attempt is refused before any update.
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var registry = ModelRegistryFactory.Create(new Dictionary<string, ModelOptions>
        {
            ["gpt"] = new() { Endpoint = $"http://127.0.0.1:{port}/v1", MaxRetries = 2, RetryDelay = TimeSpan.FromMilliseconds(5) },
        });
        Assert.True(registry.TryGet("gpt", out var gpt));

        var result = await TestModels.CollectAsync(gpt.Client).Within();

        var error = Assert.IsType<ModelProviderException>(result.Error);
        Assert.StartsWith("model 'gpt': provider unreachable after 3 attempts: Connection refused", error.Message);
        Assert.Equal(3, error.Attempts);
        Assert.True(error.Transient);
    }

    [Fact]
    public async Task A_malformed_SSE_line_after_some_chunks_is_a_clear_error_not_a_hang()
    {
        await using var server = await FakeOpenAIServer.StartAsync();
        server.Script(new Reply { Chunks = ["fine", " so", " far"], MalformedAfter = 2 });
        var gpt = TestModels.Gpt(server);

        var result = await TestModels.CollectAsync(gpt.Client).Within();

        Assert.Equal(["fine", " so"], result.Texts);
        var error = Assert.IsType<ModelProviderException>(result.Error);
        Assert.StartsWith("model 'gpt': the provider sent a malformed stream after 2 updates: ", error.Message);
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task A_malformed_first_line_is_a_clear_error_and_not_retried()
    {
        await using var server = await FakeOpenAIServer.StartAsync();
        server.Script(new Reply { Chunks = ["never", " seen"], MalformedAfter = 0 });
        var gpt = TestModels.Gpt(server);

        var result = await TestModels.CollectAsync(gpt.Client).Within();

        Assert.Empty(result.Texts);
        var error = Assert.IsType<ModelProviderException>(result.Error);
        Assert.StartsWith("model 'gpt': the provider sent a malformed stream: ", error.Message);
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task Zero_retries_means_one_attempt()
    {
        await using var server = await FakeOpenAIServer.StartAsync();
        server.Script(Reply.Fail(503));
        var gpt = TestModels.Gpt(server, o => o.MaxRetries = 0);

        var result = await TestModels.CollectAsync(gpt.Client).Within();

        Assert.Contains("HTTP 503 (Service Unavailable) after 1 attempt:", Assert.IsType<ModelProviderException>(result.Error).Message);
        Assert.Single(server.Requests);
    }

    private static IEnumerable<Exception> Chain(Exception ex)
    {
        for (Exception? e = ex; e is not null; e = e.InnerException)
            yield return e;
    }
}
