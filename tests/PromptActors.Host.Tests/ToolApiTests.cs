using System.Net;
using System.Net.ServerSentEvents;
using System.Text;
using System.Text.Json;

namespace PromptActors.Host.Tests;

/// <summary>Tools over HTTP: the host's example tools, an approval decided once, the tool events on the SSE stream.</summary>
public sealed class ToolApiTests(HostFixture host) : IClassFixture<HostFixture>
{
    private const string Prompt = """
        {"name":"Orders","messages":[{"role":"system","content":"You help with orders."}],
         "settings":{"model":"local","tools":["lookup_order","refund_order"]}}
        """;

    [Fact]
    public async Task A_refund_waits_for_approval_is_decided_once_and_the_stream_shows_every_step()
    {
        var http = host.Client();
        Assert.Equal(HttpStatusCode.OK, (await http.PutJson("/v1/prompts/orders-api", Prompt)).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await http.PostJson("/v1/instances", """{"promptId":"orders-api","instanceId":"orders-1"}""")).StatusCode);
        var accepted = await (await http.PostJson("/v1/instances/orders-1/messages",
            """{"userInput":"lookup_order {\"orderId\":\"A-7\"} then refund_order {\"orderId\":\"A-7\",\"reason\":\"broken\"}"}""")).Json();
        var taskId = accepted.GetProperty("taskId").GetString()!;

        var waiting = await AwaitStatus(http, "orders-1", "awaiting_approval");
        var pending = Assert.Single(waiting.GetProperty("execution").GetProperty("pendingToolCalls").EnumerateArray());
        Assert.Equal("refund_order", pending.GetProperty("name").GetString());
        Assert.Equal("A-7", pending.GetProperty("arguments").GetProperty("orderId").GetString());
        var callId = pending.GetProperty("callId").GetString()!;
        // The lookup ran meanwhile: its call and result are in the conversation.
        var messages = waiting.GetProperty("conversation").GetProperty("messages").EnumerateArray().ToList();
        Assert.Equal(["user", "assistant", "tool"], messages.Select(m => m.GetProperty("role").GetString()));
        Assert.Equal(2, messages[1].GetProperty("toolCalls").GetArrayLength());

        var decided = await http.PostJson($"/v1/instances/orders-1/approvals/{callId}", """{"decision":"approve","reason":"ok"}""");
        Assert.Equal(HttpStatusCode.OK, decided.StatusCode);
        Assert.Equal("approve", (await decided.Json()).GetProperty("decision").GetString());
        var again = await http.PostJson($"/v1/instances/orders-1/approvals/{callId}", """{"decision":"reject"}""");
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Equal("already_decided", (await again.Json()).GetProperty("code").GetString());
        Assert.Equal("application/problem+json", again.Content.Headers.ContentType!.MediaType);

        var raw = await http.GetStringAsync("/v1/instances/orders-1/stream");
        var events = SseParser.Create(new MemoryStream(Encoding.UTF8.GetBytes(raw))).Enumerate().ToList();
        Assert.Equal(["tool_call", "tool_call", "tool_result", "tool_call", "tool_result"], events.Take(5).Select(e => e.EventType));
        Assert.Equal("completed", events[^1].EventType);
        // One sequence of event ids across the turn's steps.
        var ids = events.Where(e => e.EventId is not null).Select(e => e.EventId!).ToList();
        Assert.Equal(Enumerable.Range(0, ids.Count).Select(i => $"{taskId}:{i}"), ids);
        var firstCall = JsonDocument.Parse(events[1].Data).RootElement;
        Assert.Equal("awaiting_approval", firstCall.GetProperty("status").GetString());
        var completed = JsonDocument.Parse(events[^1].Data).RootElement.GetProperty("text").GetString()!;
        Assert.Contains("lookup_order returned", completed);
        Assert.Contains("refund_order returned", completed);

        // A stream resumed after the approval's tool_call gets exactly the rest.
        var resume = new HttpRequestMessage(HttpMethod.Get, "/v1/instances/orders-1/stream");
        resume.Headers.Add("Last-Event-ID", $"{taskId}:3");
        var rest = SseParser.Create(await (await http.SendAsync(resume)).Content.ReadAsStreamAsync()).Enumerate().ToList();
        Assert.Equal(events.Skip(4).Select(e => e.Data), rest.Select(e => e.Data));

        // The run: one task, both model calls with their own figures (one ai_tasks row each), summing to the task's.
        var runId = (await (await http.GetAsync("/v1/instances/orders-1")).Json()).GetProperty("runTracking").GetProperty("runId").GetString();
        JsonElement task = default;
        for (var attempt = 0; attempt < 100; attempt++)
        {
            task = (await (await http.GetAsync($"/v1/runs/{runId}")).Json()).GetProperty("tasks")[0];
            if (task.GetProperty("status").GetString() == "completed")
                break;
            await Task.Delay(50); // the final task row is written by the outbox just after the reply
        }
        Assert.Equal("completed", task.GetProperty("status").GetString());
        var calls = task.GetProperty("modelCalls").EnumerateArray().ToList();
        Assert.Equal([0, 1], calls.Select(c => c.GetProperty("step").GetInt32()));
        Assert.Equal(task.GetProperty("tokensTotal").GetInt64(), calls.Sum(c => c.GetProperty("tokensTotal").GetInt64()));
        Assert.All(calls, c => Assert.True(c.GetProperty("tokensInput").GetInt64() > 0));
        Assert.Equal(2, task.GetProperty("toolCalls").GetArrayLength());
    }

    [Fact]
    public async Task A_rejected_refund_is_told_to_the_model_and_the_instance_shows_the_rejection()
    {
        var http = host.Client();
        await http.PutJson("/v1/prompts/orders-api2", Prompt);
        await http.PostJson("/v1/instances", """{"promptId":"orders-api2","instanceId":"orders-2"}""");
        await http.PostJson("/v1/instances/orders-2/messages", """{"userInput":"refund_order {\"orderId\":\"B-1\"}"}""");
        var waiting = await AwaitStatus(http, "orders-2", "awaiting_approval");
        var callId = waiting.GetProperty("execution").GetProperty("pendingToolCalls")[0].GetProperty("callId").GetString();

        var rejected = await http.PostJson($"/v1/instances/orders-2/approvals/{callId}", """{"decision":"reject","reason":"not eligible"}""");

        Assert.Equal(HttpStatusCode.OK, rejected.StatusCode);
        var done = await AwaitStatus(http, "orders-2", "completed");
        var last = done.GetProperty("conversation").GetProperty("messages").EnumerateArray().Last();
        Assert.Contains("not eligible", last.GetProperty("content").GetString());
    }

    [Fact]
    public async Task A_client_tool_waits_for_the_posted_result_and_a_second_post_is_a_conflict()
    {
        var http = host.Client();
        Assert.Equal(HttpStatusCode.OK, (await http.PutJson("/v1/prompts/where-api", """
            {"name":"Where","messages":[{"role":"system","content":"Find places."}],
             "settings":{"model":"local","clientTools":[{"name":"get_location","description":"Where the user is",
               "parameters":{"type":"object","properties":{"precision":{"type":"string"}}}}]}}
            """)).StatusCode);
        await http.PostJson("/v1/instances", """{"promptId":"where-api","instanceId":"where-1"}""");
        await http.PostJson("/v1/instances/where-1/messages", """{"userInput":"cafes near me? get_location {\"precision\":\"city\"}"}""");
        var waiting = await AwaitStatus(http, "where-1", "awaiting_tool_results");
        var pending = waiting.GetProperty("execution").GetProperty("pendingToolCalls")[0];
        Assert.Equal("awaiting_client", pending.GetProperty("status").GetString());
        var callId = pending.GetProperty("callId").GetString();

        var posted = await http.PostJson("/v1/instances/where-1/tool-results", $$$"""[{"callId":"{{{callId}}}","result":{"city":"Lisbon"}}]""");

        Assert.Equal(HttpStatusCode.OK, posted.StatusCode);
        var done = await AwaitStatus(http, "where-1", "completed");
        Assert.Contains("Lisbon", done.GetProperty("conversation").GetProperty("messages").EnumerateArray().Last().GetProperty("content").GetString());
        var again = await http.PostJson("/v1/instances/where-1/tool-results", $$$"""[{"callId":"{{{callId}}}","result":"Porto"}]""");
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Equal("tool_call_not_awaiting", (await again.Json()).GetProperty("code").GetString());
    }

    private static async Task<JsonElement> AwaitStatus(HttpClient http, string id, string status)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            var view = await (await http.GetAsync($"/v1/instances/{id}")).Json();
            if (view.GetProperty("status").GetString() == status)
                return view;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"instance {id} is {view.GetProperty("status").GetString()}, not {status}");
            await Task.Delay(50);
        }
    }
}
