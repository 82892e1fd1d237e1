using System.Net;
using System.Net.ServerSentEvents;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace PromptActors.Host.Tests;

public sealed class ApiEndToEndTests(HostFixture host) : IClassFixture<HostFixture>
{
    private const string TravelAdvisor = """
        {"name":"Travel Advisor",
         "messages":[{"role":"system","content":"You advise on travel to {{city}}."},
                     {"role":"user","content":"Tell me about {{what}} in {{org_name}} style."}],
         "variableDefaults":[{"name":"city","defaultValue":"Las Vegas"},{"name":"what","defaultValue":"Hotels"}],
         "settings":{"model":"local","temperature":1,"maxTokens":4096}}
        """;

    [Fact]
    public async Task Every_endpoint_works_end_to_end_with_a_streamed_reply_and_the_run_read_back()
    {
        var http = host.Client();

        var prompt = await http.PutJson("/v1/prompts/travel-e2e", TravelAdvisor);
        Assert.Equal(HttpStatusCode.OK, prompt.StatusCode);
        Assert.Equal(1, (await prompt.Json()).GetProperty("version").GetInt32());
        Assert.Equal("Travel Advisor", (await (await http.GetAsync("/v1/prompts/travel-e2e")).Json()).GetProperty("name").GetString());

        Assert.Equal(HttpStatusCode.OK, (await http.PutJson("/v1/scopes/org/o1/variables", """{"org_name":"Acme"}""")).StatusCode);
        Assert.Equal("Acme", (await (await http.GetAsync("/v1/scopes/org/o1/variables")).Json()).GetProperty("org_name").GetString());

        var created = await http.PostJson("/v1/instances", """
            {"promptId":"travel-e2e","scope":{"userId":"u1","orgId":"o1","projectId":"p1"},
             "variables":{"city":"Paris"},
             "executionConfig":{"autoRun":false,"allowChat":true,"showVariables":true,"applyVariables":true,"trackInRuns":true},
             "source":{"type":"prompt","id":"travel-e2e"},"runName":"demo","retain":false}
            """);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var instance = await created.Json();
        var id = instance.GetProperty("instanceId").GetString()!;
        Assert.Equal("ready", instance.GetProperty("status").GetString());
        Assert.Equal("user", instance.GetProperty("variables").GetProperty("provenance").GetProperty("city").GetString());
        Assert.Equal("orgScope", instance.GetProperty("variables").GetProperty("provenance").GetProperty("org_name").GetString());

        var patched = await http.PatchJson($"/v1/instances/{id}/variables", """{"what":"Museums","unused":null}""");
        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        Assert.Equal("Museums", (await patched.Json()).GetProperty("variables").GetProperty("merged").GetProperty("what").GetString());

        var accepted = await http.PostJson($"/v1/instances/{id}/messages", "{}");
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        var acceptedBody = await accepted.Json();
        var taskId = acceptedBody.GetProperty("taskId").GetString();
        var runId = acceptedBody.GetProperty("runId").GetString()!;

        // The SSE wire format, read raw: event/id/data lines.
        using var streamResponse = await http.GetAsync($"/v1/instances/{id}/stream", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", streamResponse.Content.Headers.ContentType!.MediaType);
        var raw = await streamResponse.Content.ReadAsStringAsync();
        Assert.Contains("event: chunk\n", raw);
        Assert.Contains($"id: {taskId}:0\n", raw); // event ids name the task and the chunk
        Assert.Contains("event: completed\n", raw);
        var events = await ParseSse(raw);
        var chunks = events.Where(e => e.EventType == "chunk").ToList();
        var text = string.Concat(chunks.Select(c => JsonDocument.Parse(c.Data).RootElement.GetProperty("text").GetString()));
        Assert.Equal("Tell me about Museums in Acme style.", text);
        var completed = JsonDocument.Parse(events.Single(e => e.EventType == "completed").Data).RootElement;
        Assert.Equal(taskId, completed.GetProperty("taskId").GetString());
        Assert.Equal(text, completed.GetProperty("text").GetString());
        Assert.True(completed.GetProperty("stats").GetProperty("tokens").GetInt64() > 0);

        // Resume after chunk 2: exactly the rest.
        var resume = new HttpRequestMessage(HttpMethod.Get, $"/v1/instances/{id}/stream");
        resume.Headers.Add("Last-Event-ID", "2");
        var resumed = await ParseSse(await (await http.SendAsync(resume)).Content.ReadAsStringAsync());
        Assert.Equal(chunks.Skip(3).Select(c => c.Data), resumed.Where(e => e.EventType == "chunk").Select(e => e.Data));
        Assert.Equal(chunks.Skip(3).Select(c => c.EventId), resumed.Where(e => e.EventType == "chunk").Select(e => e.EventId));
        Assert.Equal("completed", resumed[^1].EventType);
        // The same with the event id as sent ("taskId:2").
        var resumeById = new HttpRequestMessage(HttpMethod.Get, $"/v1/instances/{id}/stream");
        resumeById.Headers.Add("Last-Event-ID", $"{taskId}:2");
        var resumedById = await ParseSse(await (await http.SendAsync(resumeById)).Content.ReadAsStringAsync());
        Assert.Equal(chunks.Skip(3).Select(c => c.Data), resumedById.Where(e => e.EventType == "chunk").Select(e => e.Data));

        // Send and stream in one call.
        var streamed = await ParseSse(await (await http.PostJson($"/v1/instances/{id}/messages?stream=true", """{"userInput":"And food?"}""")).Content.ReadAsStringAsync());
        Assert.Equal("And food?", JsonDocument.Parse(streamed.Single(e => e.EventType == "completed").Data).RootElement.GetProperty("text").GetString());
        // A client that last saw chunk 2 of the first task reconnects after the second one ran: it gets the second reply
        // whole, not from its chunk 3.
        var acrossTasks = new HttpRequestMessage(HttpMethod.Get, $"/v1/instances/{id}/stream");
        acrossTasks.Headers.Add("Last-Event-ID", $"{taskId}:2");
        var resumedAcross = await ParseSse(await (await http.SendAsync(acrossTasks)).Content.ReadAsStringAsync());
        Assert.Equal(streamed.Where(e => e.EventType == "chunk").Select(e => e.Data),
            resumedAcross.Where(e => e.EventType == "chunk").Select(e => e.Data));
        // A task id the instance never had is refused before the stream starts (problem+json), never another task's reply.
        var unknownTask = new HttpRequestMessage(HttpMethod.Get, $"/v1/instances/{id}/stream");
        unknownTask.Headers.Add("Last-Event-ID", "no-such-task:2");
        var resumedUnknown = await http.SendAsync(unknownTask);
        Assert.Equal(HttpStatusCode.NotFound, resumedUnknown.StatusCode);
        Assert.Equal("application/problem+json", resumedUnknown.Content.Headers.ContentType?.MediaType);
        Assert.Equal("task_not_found", (await resumedUnknown.Json()).GetProperty("code").GetString());

        var view = await (await http.GetAsync($"/v1/instances/{id}")).Json();
        Assert.Equal("completed", view.GetProperty("status").GetString());
        Assert.Equal(3, view.GetProperty("conversation").GetProperty("messages").GetArrayLength());
        Assert.Equal(runId, view.GetProperty("runTracking").GetProperty("runId").GetString());

        var cancel = await (await http.PostAsync($"/v1/instances/{id}/cancel", null)).Json();
        Assert.False(cancel.GetProperty("cancelled").GetBoolean());

        // The run, from the database: through the API and straight from the table.
        JsonElement run = default;
        for (var attempt = 0; attempt < 100; attempt++)
        {
            run = await (await http.GetAsync($"/v1/runs/{runId}")).Json();
            if (run.GetProperty("taskCount").GetInt32() == 2 && run.GetProperty("tasks").EnumerateArray().All(t => t.GetProperty("status").GetString() == "completed"))
                break;
            await Task.Delay(50); // the final task row is written by the outbox just after the reply

        }
        Assert.Equal(2, run.GetProperty("taskCount").GetInt32());
        Assert.Equal(view.GetProperty("runTracking").GetProperty("totalTokens").GetInt64(), run.GetProperty("totalTokens").GetInt64());
        Assert.Equal("demo", run.GetProperty("name").GetString());
        var listed = await (await http.GetAsync("/v1/runs")).Json();
        Assert.Contains(listed.GetProperty("runs").EnumerateArray(), r => r.GetProperty("runId").GetString() == runId);
        await using (var db = new SqliteConnection($"Data Source={host.DatabasePath}"))
        {
            await db.OpenAsync();
            var cmd = db.CreateCommand();
            cmd.CommandText = "SELECT COUNT(*), SUM(tokens_total) FROM ai_tasks WHERE run_id = $run AND status = 'completed'";
            cmd.Parameters.AddWithValue("$run", runId);
            await using var reader = await cmd.ExecuteReaderAsync();
            Assert.True(await reader.ReadAsync());
            Assert.Equal(2, reader.GetInt64(0));
            Assert.Equal(run.GetProperty("totalTokens").GetInt64(), reader.GetInt64(1));
        }

        Assert.Equal(HttpStatusCode.NoContent, (await http.DeleteAsync($"/v1/instances/{id}")).StatusCode);
        var gone = await http.GetAsync($"/v1/instances/{id}");
        Assert.Equal(HttpStatusCode.Gone, gone.StatusCode);
        Assert.Equal("instance_expired", (await gone.Json()).GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"/v1/runs/{runId}")).StatusCode);
    }

    [Fact]
    public async Task Health_readiness_metrics_and_openapi_are_served()
    {
        var anonymous = host.Client(key: null);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/healthz")).StatusCode);
        var ready = await anonymous.GetAsync("/readyz");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        var admin = host.Client(HostFixture.KeyAdmin); // the operations endpoints need an admin key (RoleTests)
        Assert.Contains("promptactors_http_requests_total", await admin.GetStringAsync("/metrics"));
        var openapi = await (await admin.GetAsync("/openapi/v1.json")).Json();
        Assert.True(openapi.GetProperty("paths").TryGetProperty("/v1/instances/{id}/messages", out _));
    }

    [Fact]
    public async Task Example_prompts_are_loaded_on_first_start()
    {
        var http = host.Client();
        foreach (var id in new[] { "text-analyzer", "travel-advisor", "chat-assistant" })
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"/v1/prompts/{id}")).StatusCode);
    }

    [Fact]
    public async Task A_key_lists_the_prompts_it_sees_and_every_version_of_one_and_never_another_tenants()
    {
        var u1 = host.Client();
        var u2 = host.Client(HostFixture.KeyU2);
        await u1.PutJson("/v1/prompts/listed-p", """{"name":"v1","messages":[{"role":"user","content":"one"}]}""");
        await u1.PutJson("/v1/prompts/listed-p", """{"name":"v2","messages":[{"role":"user","content":"two"}]}""");

        var listed = (await (await u1.GetAsync("/v1/prompts?limit=1000")).Json()).GetProperty("prompts").EnumerateArray().ToList();
        var mine = Assert.Single(listed, p => p.GetProperty("id").GetString() == "listed-p");
        Assert.Equal((2, "v2"), (mine.GetProperty("version").GetInt32(), mine.GetProperty("name").GetString()));
        Assert.Contains(listed, p => p.GetProperty("id").GetString() == "text-analyzer"); // the built-in examples too
        var ids = listed.Select(p => p.GetProperty("id").GetString()).ToList();
        Assert.Equal(ids.Order(StringComparer.Ordinal), ids);

        var versions = (await (await u1.GetAsync("/v1/prompts/listed-p/versions")).Json()).GetProperty("versions").EnumerateArray()
            .Select(v => (v.GetProperty("version").GetInt32(), v.GetProperty("messages")[0].GetProperty("content").GetString())).ToList();
        Assert.Equal([(2, "two"), (1, "one")], versions);

        var theirs = (await (await u2.GetAsync("/v1/prompts?limit=1000")).Json()).GetProperty("prompts").EnumerateArray();
        Assert.DoesNotContain(theirs, p => p.GetProperty("id").GetString() == "listed-p");
        var foreign = await u2.GetAsync("/v1/prompts/listed-p/versions");
        Assert.Equal(HttpStatusCode.NotFound, foreign.StatusCode);
        Assert.Equal("prompt_not_found", (await foreign.Json()).GetProperty("code").GetString());
    }

    [Fact]
    public async Task Missing_variables_come_back_as_422_with_every_name()
    {
        var http = host.Client();
        await http.PutJson("/v1/prompts/needs-vars", """{"name":"n","messages":[{"role":"user","content":"{{a}} {{b}}"}]}""");
        var id = (await (await http.PostJson("/v1/instances", """{"promptId":"needs-vars"}""")).Json()).GetProperty("instanceId").GetString();
        var response = await http.PostJson($"/v1/instances/{id}/messages", "{}");

        Assert.Equal((HttpStatusCode)422, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
        var problem = await response.Json();
        Assert.Equal("missing_variables", problem.GetProperty("code").GetString());
        Assert.Equal(new[] { "a", "b" }, problem.GetProperty("missing").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public async Task Another_tenant_can_neither_read_nor_overwrite_a_prompt_and_keeps_its_own_of_the_same_id()
    {
        var a = host.Client(HostFixture.KeyU1);
        var b = host.Client(HostFixture.KeyU2);
        var saved = await a.PutJson("/v1/prompts/support-agent", """{"name":"A","messages":[{"role":"user","content":"A-only words"}],"settings":{"model":"local"}}""");
        Assert.Equal(HttpStatusCode.OK, saved.StatusCode);
        var owner = (await saved.Json()).GetProperty("owner");
        Assert.Equal(("project", "p1"), (owner.GetProperty("kind").GetString(), owner.GetProperty("scopeId").GetString()));
        var before = await a.GetStringAsync("/v1/prompts/support-agent");

        var read = await b.GetAsync("/v1/prompts/support-agent");
        Assert.Equal(HttpStatusCode.NotFound, read.StatusCode);
        Assert.DoesNotContain("A-only", await read.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var theirs = await b.PutJson("/v1/prompts/support-agent", """{"name":"B","messages":[{"role":"user","content":"B words"}],"settings":{"model":"local"}}""");
        Assert.Equal(1, (await theirs.Json()).GetProperty("version").GetInt32());
        Assert.Equal(before, await a.GetStringAsync("/v1/prompts/support-agent"));

        // A's next instance runs A's text (the local model echoes it).
        var started = await (await a.PostJson("/v1/instances", """{"promptId":"support-agent"}""")).Json();
        var id = started.GetProperty("instanceId").GetString();
        var reply = await a.PostJson($"/v1/instances/{id}/messages?stream=true", "{}");
        var completed = (await ParseSse(await reply.Content.ReadAsStringAsync())).Single(e => e.EventType == "completed");
        Assert.Equal("A-only words", JsonDocument.Parse(completed.Data).RootElement.GetProperty("text").GetString());
    }

    internal static async Task<List<SseItem<string>>> ParseSse(string raw)
    {
        var items = new List<SseItem<string>>();
        await foreach (var item in SseParser.Create(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(raw))).EnumerateAsync())
            items.Add(item);
        return items;
    }
}
