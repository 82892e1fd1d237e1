using System.Net;
using PromptActors.Host.Auth;

namespace PromptActors.Host.Tests;

/// <summary>Stream tokens for <c>EventSource</c>: one instance, one endpoint, a minute, signed.</summary>
public sealed class StreamTokenTests(HostFixture host) : IClassFixture<HostFixture>, IAsyncLifetime
{
    public async Task InitializeAsync()
    {
        var u1 = host.Client();
        await u1.PutJson("/v1/prompts/tok-p", """{"name":"T","messages":[{"role":"user","content":"stream me please"}],"settings":{"model":"local"}}""");
        foreach (var id in new[] { "tok-a", "tok-b" })
        {
            if ((await u1.PostJson("/v1/instances", $$"""{"promptId":"tok-p","instanceId":"{{id}}"}""")).StatusCode == HttpStatusCode.Created)
            {
                await u1.PostJson($"/v1/instances/{id}/messages", "{}");
                await u1.GetStringAsync($"/v1/instances/{id}/stream");
            }
        }
    }

    public Task DisposeAsync() => Task.CompletedTask;

    private async Task<string> TokenAsync(string instanceId, string key = HostFixture.KeyU1)
    {
        var response = await host.Client(key).PostJson($"/v1/instances/{instanceId}/stream-tokens", "{}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Json()).GetProperty("token").GetString()!;
    }

    [Fact]
    public async Task An_event_source_streams_with_a_token_in_the_query_and_no_header()
    {
        var token = await TokenAsync("tok-a");
        var anonymous = host.Client(key: null);
        var sse = await anonymous.GetAsync($"/v1/instances/tok-a/stream?access_token={Uri.EscapeDataString(token)}");

        Assert.Equal(HttpStatusCode.OK, sse.StatusCode);
        Assert.Equal("text/event-stream", sse.Content.Headers.ContentType!.MediaType);
        var text = await sse.Content.ReadAsStringAsync();
        Assert.Contains("event: completed", text);
        Assert.Contains("stream me please", text);
    }

    [Theory]
    [InlineData("/v1/instances/tok-b/stream")] // another instance
    [InlineData("/v1/instances/tok-a")] // another endpoint
    [InlineData("/v1/runs")]
    public async Task A_token_opens_only_its_own_instances_stream(string url)
    {
        var token = await TokenAsync("tok-a");
        var response = await host.Client(key: null).GetAsync($"{url}?access_token={Uri.EscapeDataString(token)}");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task A_changed_token_is_refused()
    {
        var token = await TokenAsync("tok-a");
        var flipped = token[..^2] + (token[^2] == 'A' ? 'B' : 'A') + token[^1];
        foreach (var bad in new[] { flipped, "x", "x.y", ".", token.Split('.')[0] })
        {
            var response = await host.Client(key: null).GetAsync($"/v1/instances/tok-a/stream?access_token={Uri.EscapeDataString(bad)}");
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }
    }

    [Fact]
    public async Task Another_tenant_cannot_get_a_token_for_an_instance_it_cannot_see()
    {
        var response = await host.Client(HostFixture.KeyU2).PostJson("/v1/instances/tok-a/stream-tokens", "{}");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("instance_not_found", (await response.Json()).GetProperty("code").GetString());
    }

    private sealed class Clock : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = new(2026, 12, 2, 9, 0, 0, TimeSpan.Zero);
        public override DateTimeOffset GetUtcNow() => Now;
    }

    [Fact]
    public void A_token_expires_after_a_minute_and_keeps_the_keys_scope_and_role()
    {
        var clock = new Clock();
        var tokens = new StreamTokens(new byte[32], clock);
        var caller = new ApiCaller("u1", "o1", null, ApiRole.Runner);
        var (token, expires) = tokens.Issue("i-1", caller);
        Assert.Equal(clock.Now + StreamTokens.Lifetime, expires);

        Assert.Equal(caller, tokens.Validate(token, "i-1"));
        clock.Now += TimeSpan.FromSeconds(59);
        Assert.NotNull(tokens.Validate(token, "i-1"));
        clock.Now += TimeSpan.FromSeconds(1);
        Assert.Null(tokens.Validate(token, "i-1"));
        // Another node's secret does not accept it.
        Assert.Null(new StreamTokens(new byte[] { 1 }, new Clock()).Validate(token, "i-1"));
    }
}
