using System.Net;
using System.Text.Json;

namespace PromptActors.Host.Tests;

/// <summary>A prompt's model settings are kept as saved and run with (the local model accepts and ignores them).</summary>
public sealed class PromptSettingsTests(HostFixture host) : IClassFixture<HostFixture>
{
    [Fact]
    public async Task Every_setting_is_saved_read_back_and_a_turn_runs_with_them()
    {
        var client = host.Client();
        const string prompt = """
            {"name":"S","messages":[{"role":"system","content":"Be brief."}],
             "settings":{"model":"local","temperature":0.3,"topP":0.8,"maxTokens":100,"stop":["END"],"topK":40,"seed":1234,
                         "frequencyPenalty":0.5,"presencePenalty":-0.25,"repairAttempts":2}}
            """;
        Assert.Equal(HttpStatusCode.OK, (await client.PutJson("/v1/prompts/settings-p", prompt)).StatusCode);
        var settings = (await (await client.GetAsync("/v1/prompts/settings-p")).Json()).GetProperty("settings");
        Assert.Equal(40, settings.GetProperty("topK").GetInt32());
        Assert.Equal(1234, settings.GetProperty("seed").GetInt64());
        Assert.Equal(0.5, settings.GetProperty("frequencyPenalty").GetDouble());
        Assert.Equal(-0.25, settings.GetProperty("presencePenalty").GetDouble());
        Assert.Equal(0.3, settings.GetProperty("temperature").GetDouble());
        Assert.Equal(2, settings.GetProperty("repairAttempts").GetInt32());

        var started = await client.PostJson("/v1/instances", """{"promptId":"settings-p","instanceId":"settings-i","executionConfig":{"autoRun":true}}""");
        Assert.Equal(HttpStatusCode.Created, started.StatusCode);
        Assert.Contains("event: completed", await client.GetStringAsync("/v1/instances/settings-i/stream"));
    }

    [Fact]
    public async Task A_json_schema_prompt_on_the_local_model_streams_a_valid_reply_whose_output_is_in_the_event_the_view_and_the_run()
    {
        var client = host.Client();
        const string prompt = """
            {"name":"Rate","messages":[{"role":"system","content":"Rate the review."}],
             "settings":{"model":"local","reasoningEffort":"low","additionalProperties":{"service_tier":"flex"},
                         "responseFormat":{"type":"json_schema","name":"rating","strict":true,
                           "schema":{"type":"object","properties":{"stars":{"type":"integer","minimum":1,"maximum":5},
                                     "summary":{"type":"string"}},"required":["stars","summary"],"additionalProperties":false}}}}
            """;
        Assert.Equal(HttpStatusCode.OK, (await client.PutJson("/v1/prompts/rate-p", prompt)).StatusCode);
        var settings = (await (await client.GetAsync("/v1/prompts/rate-p")).Json()).GetProperty("settings");
        var format = settings.GetProperty("responseFormat");
        Assert.Equal("json_schema", format.GetProperty("type").GetString());
        Assert.Equal("rating", format.GetProperty("name").GetString());
        Assert.True(format.GetProperty("strict").GetBoolean());
        Assert.Equal(JsonValueKind.Object, format.GetProperty("schema").GetProperty("properties").ValueKind);
        Assert.Equal("low", settings.GetProperty("reasoningEffort").GetString());
        Assert.Equal("flex", settings.GetProperty("additionalProperties").GetProperty("service_tier").GetString());

        Assert.Equal(HttpStatusCode.Created,
            (await client.PostJson("/v1/instances", """{"promptId":"rate-p","instanceId":"rate-i"}""")).StatusCode);
        var stream = await (await client.PostJson("/v1/instances/rate-i/messages?stream=true", """{"userInput":"great value"}"""))
            .Content.ReadAsStringAsync();
        var completed = stream.Split("\n\n").Single(e => e.StartsWith("event: completed", StringComparison.Ordinal));
        using var data = JsonDocument.Parse(completed[(completed.IndexOf("data: ", StringComparison.Ordinal) + 6)..]);
        var output = data.RootElement.GetProperty("output");
        Assert.Equal(1, output.GetProperty("stars").GetInt32());
        Assert.Equal("great value", output.GetProperty("summary").GetString());
        Assert.Equal(data.RootElement.GetProperty("text").GetString(), output.GetRawText());

        var view = await (await client.GetAsync("/v1/instances/rate-i")).Json();
        Assert.Equal(output.GetRawText(), view.GetProperty("execution").GetProperty("lastOutput").GetRawText());
        var runId = view.GetProperty("runTracking").GetProperty("runId").GetString();
        var run = await (await client.GetAsync($"/v1/runs/{runId}")).Json();
        Assert.Equal(output.GetRawText(), run.GetProperty("tasks")[0].GetProperty("output").GetRawText());
    }

    [Fact]
    public async Task A_message_may_set_its_own_sampling_settings_and_its_task_shows_what_it_ran_with()
    {
        var client = host.Client();
        const string prompt = """{"name":"T","messages":[{"role":"system","content":"Be brief."}],"settings":{"model":"local","temperature":0.9,"maxTokens":50}}""";
        Assert.Equal(HttpStatusCode.OK, (await client.PutJson("/v1/prompts/tuned-p", prompt)).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await client.PostJson("/v1/instances",
            """{"promptId":"tuned-p","instanceId":"tuned-i","executionConfig":{"allowChat":true}}""")).StatusCode);

        var refused = await client.PostJson("/v1/instances/tuned-i/messages", """{"userInput":"x","settings":{"model":"gpt"}}""");
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        var stream = await (await client.PostJson("/v1/instances/tuned-i/messages?stream=true",
            """{"userInput":"hello there","settings":{"temperature":0.2,"seed":7}}""")).Content.ReadAsStringAsync();
        Assert.Contains("event: completed", stream);

        var view = await (await client.GetAsync("/v1/instances/tuned-i")).Json();
        var runId = view.GetProperty("runTracking").GetProperty("runId").GetString();
        var task = (await (await client.GetAsync($"/v1/runs/{runId}")).Json()).GetProperty("tasks").EnumerateArray().Single();
        Assert.Equal(0.2, task.GetProperty("settings").GetProperty("temperature").GetDouble());
        Assert.Equal(50, task.GetProperty("settings").GetProperty("maxTokens").GetInt32()); // the prompt's
        Assert.Equal(7, task.GetProperty("settings").GetProperty("seed").GetInt64());
        Assert.Equal(0.2, task.GetProperty("messageSettings").GetProperty("temperature").GetDouble());
        Assert.Equal(JsonValueKind.Null, task.GetProperty("messageSettings").GetProperty("maxTokens").ValueKind);
    }

    [Fact]
    public async Task The_history_endpoint_lists_the_journal_and_the_state_as_of_an_event()
    {
        var client = host.Client();
        await client.PutJson("/v1/prompts/hist-p", """{"name":"H","messages":[{"role":"system","content":"Hi."}],"settings":{"model":"local"}}""");
        await client.PostJson("/v1/instances", """{"promptId":"hist-p","instanceId":"hist-i","executionConfig":{"allowChat":true}}""");
        await (await client.PostJson("/v1/instances/hist-i/messages?stream=true", """{"userInput":"one two"}""")).Content.ReadAsStringAsync();

        var history = await (await client.GetAsync("/v1/instances/hist-i/history")).Json();
        var kinds = history.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("kind").GetString()).ToArray();
        Assert.Equal(["started", "message", "completed"], kinds.Where(k => k != "synced"));
        Assert.Equal(2, history.GetProperty("state").GetProperty("conversation").GetArrayLength());

        var first = await (await client.GetAsync("/v1/instances/hist-i/history?at=1")).Json();
        Assert.Equal(1, first.GetProperty("events").GetArrayLength());
        Assert.Equal(0, first.GetProperty("state").GetProperty("conversation").GetArrayLength());
        Assert.Equal("ready", first.GetProperty("state").GetProperty("status").GetString());
    }

    [Fact]
    public async Task A_fork_from_the_history_starts_a_new_instance_with_the_turns_up_to_that_event()
    {
        var client = host.Client();
        await client.PutJson("/v1/prompts/fork-p", """{"name":"F","messages":[{"role":"system","content":"Hi."}],"settings":{"model":"local"}}""");
        await client.PostJson("/v1/instances", """{"promptId":"fork-p","instanceId":"fork-src","executionConfig":{"allowChat":true}}""");
        await (await client.PostJson("/v1/instances/fork-src/messages?stream=true", """{"userInput":"one"}""")).Content.ReadAsStringAsync();
        await (await client.PostJson("/v1/instances/fork-src/messages?stream=true", """{"userInput":"two"}""")).Content.ReadAsStringAsync();
        var events = (await (await client.GetAsync("/v1/instances/fork-src/history")).Json()).GetProperty("events").EnumerateArray().ToArray();
        var afterFirst = events.First(e => e.GetProperty("kind").GetString() == "completed").GetProperty("sequenceNr").GetInt64();

        var created = await client.PostJson("/v1/instances/fork-src/fork", $$"""{"at":{{afterFirst}},"instanceId":"fork-dst"}""");

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal("/v1/instances/fork-dst", created.Headers.Location!.OriginalString);
        var view = await created.Json();
        Assert.Equal(["one", "one"], view.GetProperty("conversation").GetProperty("messages").EnumerateArray()
            .Select(m => m.GetProperty("content").GetString()));
        var reply = await (await client.PostJson("/v1/instances/fork-dst/messages?stream=true", """{"userInput":"three"}""")).Content.ReadAsStringAsync();
        Assert.Contains("event: completed", reply);
        Assert.Equal(4, (await (await client.GetAsync("/v1/instances/fork-src")).Json()).GetProperty("conversation").GetProperty("messages").GetArrayLength());
    }
}
