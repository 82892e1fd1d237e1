using System.Net;
using System.Text.Json;

namespace PromptActors.Host.Tests;

/// <summary>Parts over HTTP: a message with an image and a file, the view's references, and the bytes served to their owner.</summary>
public sealed class AttachmentApiTests(HostFixture host) : IClassFixture<HostFixture>
{
    [Fact]
    public async Task A_streamed_message_with_an_image_and_a_file_is_described_by_the_local_model_and_its_bytes_are_served_to_their_owner()
    {
        var client = host.Client();
        Assert.Equal(HttpStatusCode.OK, (await client.PutJson("/v1/prompts/att-p",
            """{"name":"A","messages":[{"role":"system","content":"Describe."}],"settings":{"model":"local"}}""")).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await client.PostJson("/v1/instances", """{"promptId":"att-p","instanceId":"att-i"}""")).StatusCode);
        var png = new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13 };
        var csv = "id,total\n1,9.50\n"u8.ToArray();
        var body = JsonSerializer.Serialize(new
        {
            userInput = "what are these?",
            parts = new object[]
            {
                new { type = "image", data = Convert.ToBase64String(png), mediaType = "image/png" },
                new { type = "file", data = Convert.ToBase64String("%PDF-1.4"u8.ToArray()), mediaType = "application/pdf", name = "order.pdf" },
                new { type = "file", data = Convert.ToBase64String(csv), mediaType = "text/csv", name = "orders.csv" },
            },
        });

        var response = await client.PostAsync("/v1/instances/att-i/messages?stream=true",
            new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        var sse = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("event: completed", sse);
        Assert.Contains("[image: image/png, 12 bytes]", sse);
        Assert.Contains("[file: order.pdf, application/pdf, 8 bytes]", sse);
        Assert.Contains("[file orders.csv (text/csv)]", sse); // a text file reaches the model as its text

        var view = await (await client.GetAsync("/v1/instances/att-i")).Json();
        var parts = view.GetProperty("conversation").GetProperty("messages")[0].GetProperty("parts");
        Assert.Equal(3, parts.GetArrayLength());
        var sha = parts[0].GetProperty("sha256").GetString()!;
        Assert.Equal(12, parts[0].GetProperty("size").GetInt64());
        Assert.False(parts[0].TryGetProperty("data", out _));
        Assert.True(view.GetProperty("execution").GetProperty("lastMessageStats").GetProperty("usageEstimated").GetBoolean());

        // The run's task row keeps the parts (by reference) beside the text, for the run's transcript.
        var runId = view.GetProperty("runTracking").GetProperty("runId").GetString();
        var task = (await (await client.GetAsync($"/v1/runs/{runId}")).Json()).GetProperty("tasks")[0];
        Assert.Equal("what are these?", task.GetProperty("userMessage").GetString());
        Assert.Equal(sha, task.GetProperty("parts")[0].GetProperty("sha256").GetString());
        Assert.Equal("orders.csv", task.GetProperty("parts")[2].GetProperty("name").GetString());

        var served = await client.GetAsync($"/v1/attachments/{sha}");
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        Assert.Equal("image/png", served.Content.Headers.ContentType?.MediaType);
        Assert.Equal(png, await served.Content.ReadAsByteArrayAsync());
        Assert.Equal("nosniff", served.Headers.GetValues("X-Content-Type-Options").Single());
        var foreign = await host.Client(HostFixture.KeyU2).GetAsync($"/v1/attachments/{sha}");
        Assert.Equal(HttpStatusCode.NotFound, foreign.StatusCode);
        Assert.Equal("attachment_not_found", (await foreign.Json()).GetProperty("code").GetString());
        // A key of the same user in another org is another tenant too.
        Assert.Equal(HttpStatusCode.NotFound, (await host.Client(HostFixture.KeyU1OtherOrg).GetAsync($"/v1/attachments/{sha}")).StatusCode);
    }
}
