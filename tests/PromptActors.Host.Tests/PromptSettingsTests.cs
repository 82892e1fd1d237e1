using System.Net;

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
                         "frequencyPenalty":0.5,"presencePenalty":-0.25}}
            """;
        Assert.Equal(HttpStatusCode.OK, (await client.PutJson("/v1/prompts/settings-p", prompt)).StatusCode);
        var settings = (await (await client.GetAsync("/v1/prompts/settings-p")).Json()).GetProperty("settings");
        Assert.Equal(40, settings.GetProperty("topK").GetInt32());
        Assert.Equal(1234, settings.GetProperty("seed").GetInt64());
        Assert.Equal(0.5, settings.GetProperty("frequencyPenalty").GetDouble());
        Assert.Equal(-0.25, settings.GetProperty("presencePenalty").GetDouble());
        Assert.Equal(0.3, settings.GetProperty("temperature").GetDouble());

        var started = await client.PostJson("/v1/instances", """{"promptId":"settings-p","instanceId":"settings-i","executionConfig":{"autoRun":true}}""");
        Assert.Equal(HttpStatusCode.Created, started.StatusCode);
        Assert.Contains("event: completed", await client.GetStringAsync("/v1/instances/settings-i/stream"));
    }
}
