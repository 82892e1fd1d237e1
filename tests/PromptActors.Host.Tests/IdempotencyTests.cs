using System.Net;
using System.Text;

namespace PromptActors.Host.Tests;

/// <summary>A client's retry of a message with the same <c>Idempotency-Key</c> gets the first request's task, never a second.</summary>
public sealed class IdempotencyTests(HostFixture host) : IClassFixture<HostFixture>
{
    private static HttpRequestMessage Message(string instanceId, string text, string? key, bool stream = false)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/instances/{instanceId}/messages{(stream ? "?stream=true" : "")}")
        {
            Content = new StringContent($$"""{"userInput":"{{text}}"}""", Encoding.UTF8, "application/json"),
        };
        if (key is not null)
            request.Headers.Add("Idempotency-Key", key);
        return request;
    }

    private async Task<string> StartAsync(string id)
    {
        var client = host.Client();
        var started = await client.PostJson("/v1/instances", "{\"promptId\":\"chat-assistant\",\"instanceId\":\"" + id + "\",\"executionConfig\":{\"allowChat\":true}}");
        Assert.Equal(HttpStatusCode.Created, started.StatusCode);
        return id;
    }

    [Fact]
    public async Task A_message_sent_again_with_its_key_is_answered_with_the_first_task()
    {
        var client = host.Client();
        var id = await StartAsync("idem-1");
        var first = await (await client.SendAsync(Message(id, "hello", "req-1"))).Json();
        await client.GetStringAsync($"/v1/instances/{id}/stream");
        var again = await client.SendAsync(Message(id, "hello", "req-1"));
        Assert.Equal(HttpStatusCode.Accepted, again.StatusCode);
        Assert.Equal(first.GetProperty("taskId").GetString(), (await again.Json()).GetProperty("taskId").GetString());
        // Streamed, the retry streams that task's reply.
        var streamed = await (await client.SendAsync(Message(id, "hello", "req-1", stream: true))).Content.ReadAsStringAsync();
        Assert.Contains(first.GetProperty("taskId").GetString()!, streamed);
        Assert.Contains("event: completed", streamed);
        // Another key is another message.
        var other = await (await client.SendAsync(Message(id, "more", "req-2"))).Json();
        Assert.NotEqual(first.GetProperty("taskId").GetString(), other.GetProperty("taskId").GetString());
        await client.GetStringAsync($"/v1/instances/{id}/stream");
        var run = await (await client.GetAsync($"/v1/runs/{first.GetProperty("runId").GetString()}")).Json();
        Assert.Equal(2, run.GetProperty("tasks").GetArrayLength());
    }

    [Fact]
    public async Task A_key_is_per_instance_and_a_malformed_key_is_refused()
    {
        var client = host.Client();
        var a = await StartAsync("idem-a");
        var b = await StartAsync("idem-b");
        var onA = await (await client.SendAsync(Message(a, "hi", "same-key"))).Json();
        var onB = await (await client.SendAsync(Message(b, "hi", "same-key"))).Json();
        Assert.NotEqual(onA.GetProperty("taskId").GetString(), onB.GetProperty("taskId").GetString());
        var bad = await client.SendAsync(Message(a, "hi", "not a key"));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal("validation_failed", (await bad.Json()).GetProperty("code").GetString());
    }
}
