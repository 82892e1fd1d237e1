using System.Net;
using System.Text;
using System.Text.Json;

namespace PromptActors.Host.Tests;

/// <summary>Seeds a prompt, one instance per tenant and one run, for the bad-input table.</summary>
public sealed class SeededHost : IAsyncLifetime
{
    public HostFixture Host { get; } = new();
    public string RunU1 { get; private set; } = "";
    public string ShaU1 { get; private set; } = "";

    public async Task InitializeAsync()
    {
        await Host.InitializeAsync();
        var u1 = Host.Client(HostFixture.KeyU1);
        var u2 = Host.Client(HostFixture.KeyU2);
        const string seed = """{"name":"Seed","messages":[{"role":"system","content":"Hi {{city}}"}],"variableDefaults":[{"name":"city","defaultValue":"Oslo"}],"settings":{"model":"local"}}""";
        Check(await u1.PutJson("/v1/prompts/seed", seed)); // each tenant has its own prompt of this id
        Check(await u2.PutJson("/v1/prompts/seed", seed.Replace("Hi", "Hello")));
        Check(await u1.PutJson("/v1/prompts/u1-only", seed));
        Check(await u1.PostJson("/v1/instances", """{"promptId":"seed","instanceId":"inst-u1","variables":{"city":"Rome"}}"""));
        Check(await u2.PostJson("/v1/instances", """{"promptId":"seed","instanceId":"inst-u2"}"""));
        var accepted = await u1.PostJson("/v1/instances/inst-u1/messages", "{}");
        Check(accepted);
        RunU1 = (await accepted.Json()).GetProperty("runId").GetString()!;
        await u1.GetStringAsync("/v1/instances/inst-u1/stream"); // wait for the reply
        var png = new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A };
        Check(await u1.PostJson("/v1/instances/inst-u1/messages",
            $$"""{"userInput":"look","parts":[{"type":"image","data":"{{Convert.ToBase64String(png)}}","mediaType":"image/png"}]}"""));
        await u1.GetStringAsync("/v1/instances/inst-u1/stream");
        ShaU1 = PromptActors.Attachments.AttachmentHash.Of(png);
    }

    private static void Check(HttpResponseMessage response)
    {
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"seeding failed: {(int)response.StatusCode} {response.Content.ReadAsStringAsync().Result}");
    }

    public Task DisposeAsync() => Host.DisposeAsync();
}

public sealed class BadInputTests(SeededHost seeded) : IClassFixture<SeededHost>
{
    private const string U1 = HostFixture.KeyU1;
    private const string U2 = HostFixture.KeyU2;
    private const string Admin = HostFixture.KeyAdmin;
    private const string Json = "application/json";

    // name, method, url, body, content type, key, expected status, expected code
    public static TheoryData<string, string, string, string?, string, string?, int, string> Cases => new()
    {
        { "malformed JSON", "POST", "/v1/instances", """{"promptId":""", Json, U1, 400, "validation_failed" },
        { "wrong type for promptId", "POST", "/v1/instances", """{"promptId":5}""", Json, U1, 400, "validation_failed" },
        { "unknown field", "POST", "/v1/instances", """{"promptId":"seed","variabels":{"city":"x"}}""", Json, U1, 400, "validation_failed" },
        { "missing promptId", "POST", "/v1/instances", "{}", Json, U1, 400, "validation_failed" },
        { "empty body", "POST", "/v1/instances", "", Json, U1, 400, "validation_failed" },
        { "unknown prompt", "POST", "/v1/instances", """{"promptId":"nope"}""", Json, U1, 404, "prompt_not_found" },
        { "unknown prompt version", "POST", "/v1/instances", """{"promptId":"seed","promptVersion":9}""", Json, U1, 404, "prompt_not_found" },
        { "bad variable name", "POST", "/v1/instances", """{"promptId":"seed","variables":{"1x":"v"}}""", Json, U1, 400, "validation_failed" },
        { "variable value not a string", "POST", "/v1/instances", """{"promptId":"seed","variables":{"city":3}}""", Json, U1, 400, "validation_failed" },
        { "config flag not a bool", "POST", "/v1/instances", """{"promptId":"seed","executionConfig":{"autoRun":"yes"}}""", Json, U1, 400, "validation_failed" },
        { "another tenant's scope", "POST", "/v1/instances", """{"promptId":"seed","scope":{"userId":"u2"}}""", Json, U1, 403, "forbidden" },
        { "another org", "POST", "/v1/instances", """{"promptId":"seed","scope":{"userId":"u1","orgId":"o2"}}""", Json, U1, 403, "forbidden" },
        { "existing instance id", "POST", "/v1/instances", """{"promptId":"seed","instanceId":"inst-u1"}""", Json, U1, 409, "instance_exists" },
        { "invalid instance id", "POST", "/v1/instances", """{"promptId":"seed","instanceId":"a b"}""", Json, U1, 400, "validation_failed" },
        { "body too large", "POST", "/v1/instances", "{\"promptId\":\"seed\",\"runName\":\"" + new string('x', 70_000) + "\"}", Json, U1, 413, "payload_too_large" },
        { "not JSON content type", "POST", "/v1/instances", """{"promptId":"seed"}""", "text/plain", U1, 415, "unsupported_media_type" },
        { "no API key", "POST", "/v1/instances", """{"promptId":"seed"}""", Json, null, 401, "unauthorized" },
        { "wrong API key", "GET", "/v1/instances/inst-u1", null, Json, "not-a-key", 401, "unauthorized" },
        { "unknown instance", "GET", "/v1/instances/nope", null, Json, U1, 404, "instance_not_found" },
        { "another tenant's instance", "GET", "/v1/instances/inst-u2", null, Json, U1, 404, "instance_not_found" },
        { "invalid instance id in URL", "GET", "/v1/instances/has%20space", null, Json, U1, 400, "validation_failed" },
        { "patch value not a string", "PATCH", "/v1/instances/inst-u1/variables", """{"city":5}""", Json, U1, 400, "validation_failed" },
        { "patch bad variable name", "PATCH", "/v1/instances/inst-u1/variables", """{"bad name":"x"}""", Json, U1, 400, "validation_failed" },
        { "patch malformed JSON", "PATCH", "/v1/instances/inst-u1/variables", "{city", Json, U1, 400, "validation_failed" },
        { "patch another tenant's instance", "PATCH", "/v1/instances/inst-u2/variables", """{"city":"x"}""", Json, U1, 404, "instance_not_found" },
        { "empty user input", "POST", "/v1/instances/inst-u1/messages", """{"userInput":""}""", Json, U1, 400, "validation_failed" },
        { "user input not a string", "POST", "/v1/instances/inst-u1/messages", """{"userInput":5}""", Json, U1, 400, "validation_failed" },
        { "misspelt message field", "POST", "/v1/instances/inst-u1/messages", """{"input":"hi"}""", Json, U1, 400, "validation_failed" },
        { "follow-up without text", "POST", "/v1/instances/inst-u1/messages", "{}", Json, U1, 400, "validation_failed" },
        { "user input over the limit", "POST", "/v1/instances/inst-u1/messages", "{\"userInput\":\"" + new string('y', 2000) + "\"}", Json, U1, 400, "validation_failed" },
        { "message to another tenant's instance", "POST", "/v1/instances/inst-u2/messages", """{"userInput":"hi"}""", Json, U1, 404, "instance_not_found" },
        { "message to unknown instance", "POST", "/v1/instances/nope/messages", """{"userInput":"hi"}""", Json, U1, 404, "instance_not_found" },
        { "part of an unknown type", "POST", "/v1/instances/inst-u1/messages", """{"userInput":"x","parts":[{"type":"video","url":"https://x.test/v.mp4"}]}""", Json, U1, 400, "validation_failed" },
        { "part data not base64", "POST", "/v1/instances/inst-u1/messages", """{"userInput":"x","parts":[{"type":"image","data":"@@@","mediaType":"image/png"}]}""", Json, U1, 400, "validation_failed" },
        { "image part without a media type", "POST", "/v1/instances/inst-u1/messages", """{"userInput":"x","parts":[{"type":"image","data":"iVBORw0KGgo="}]}""", Json, U1, 400, "validation_failed" },
        { "image part of a media type not accepted", "POST", "/v1/instances/inst-u1/messages", """{"userInput":"x","parts":[{"type":"image","data":"PHN2Zz48L3N2Zz4=","mediaType":"image/svg+xml"}]}""", Json, U1, 415, "unsupported_media_type" },
        { "file part of a media type not accepted", "POST", "/v1/instances/inst-u1/messages", """{"userInput":"x","parts":[{"type":"file","data":"TVo=","mediaType":"application/x-msdownload","name":"a.exe"}]}""", Json, U1, 415, "unsupported_media_type" },
        { "image part over the limit", "POST", "/v1/instances/inst-u1/messages", "{\"userInput\":\"x\",\"parts\":[{\"type\":\"image\",\"mediaType\":\"image/png\",\"data\":\"" + Convert.ToBase64String(new byte[5000]) + "\"}]}", Json, U1, 413, "payload_too_large" },
        { "parts over the message limit together", "POST", "/v1/instances/inst-u1/messages", "{\"userInput\":\"x\",\"parts\":[" + string.Join(",", Enumerable.Repeat("{\"type\":\"image\",\"mediaType\":\"image/png\",\"data\":\"" + Convert.ToBase64String(new byte[3000]) + "\"}", 3)) + "]}", Json, U1, 413, "payload_too_large" },
        { "message body over the limit for parts", "POST", "/v1/instances/inst-u1/messages", "{\"userInput\":\"x\",\"parts\":[{\"type\":\"note\",\"text\":\"" + new string('n', 200_000) + "\"}]}", Json, U1, 413, "payload_too_large" },
        { "too many parts", "POST", "/v1/instances/inst-u1/messages", """{"userInput":"x","parts":[{"type":"note","text":"1"},{"type":"note","text":"2"},{"type":"note","text":"3"},{"type":"note","text":"4"},{"type":"note","text":"5"}]}""", Json, U1, 400, "validation_failed" },
        { "image url not http", "POST", "/v1/instances/inst-u1/messages", """{"userInput":"x","parts":[{"type":"image","url":"javascript:alert(1)"}]}""", Json, U1, 400, "validation_failed" },
        { "webpage part without its source", "POST", "/v1/instances/inst-u1/messages", """{"userInput":"x","parts":[{"type":"webpage","text":"hours"}]}""", Json, U1, 400, "validation_failed" },
        { "part with an unknown field", "POST", "/v1/instances/inst-u1/messages", """{"userInput":"x","parts":[{"type":"text","text":"x","colour":"red"}]}""", Json, U1, 400, "validation_failed" },
        { "part that is null", "POST", "/v1/instances/inst-u1/messages", """{"userInput":"x","parts":[null]}""", Json, U1, 400, "validation_failed" },
        { "parts to another tenant's instance", "POST", "/v1/instances/inst-u2/messages", """{"userInput":"x","parts":[{"type":"image","data":"iVBORw0KGgo=","mediaType":"image/png"}]}""", Json, U1, 404, "instance_not_found" },
        { "another tenant's attachment", "GET", "/v1/attachments/{shaU1}", null, Json, U2, 404, "attachment_not_found" },
        { "unknown attachment", "GET", "/v1/attachments/0000000000000000000000000000000000000000000000000000000000000000", null, Json, U1, 404, "attachment_not_found" },
        { "attachment hash malformed", "GET", "/v1/attachments/abc", null, Json, U1, 404, "attachment_not_found" },
        { "cancel another tenant's instance", "POST", "/v1/instances/inst-u2/cancel", null, Json, U1, 404, "instance_not_found" },
        { "delete another tenant's instance", "DELETE", "/v1/instances/inst-u2", null, Json, U1, 404, "instance_not_found" },
        { "stream with a bad Last-Event-ID", "GET", "/v1/instances/inst-u1/stream#last=abc", null, Json, U1, 400, "validation_failed" },
        { "stream with an overflowing Last-Event-ID", "GET", "/v1/instances/inst-u1/stream#last=9223372036854775807", null, Json, U1, 400, "validation_failed" },
        { "stream with a bad task in Last-Event-ID", "GET", "/v1/instances/inst-u1/stream#last=bad task:1", null, Json, U1, 400, "validation_failed" },
        { "stream with a negative Last-Event-ID", "GET", "/v1/instances/inst-u1/stream#last=t1:-1", null, Json, U1, 400, "validation_failed" },
        { "stream another tenant's instance", "GET", "/v1/instances/inst-u2/stream", null, Json, U1, 404, "instance_not_found" },
        { "another tenant's prompt", "GET", "/v1/prompts/u1-only", null, Json, U2, 404, "prompt_not_found" },
        { "another tenant's prompt version", "GET", "/v1/prompts/u1-only?version=1", null, Json, U2, 404, "prompt_not_found" },
        { "another tenant's prompt versions", "GET", "/v1/prompts/u1-only/versions", null, Json, U2, 404, "prompt_not_found" },
        { "versions of an unknown prompt", "GET", "/v1/prompts/nope/versions", null, Json, U1, 404, "prompt_not_found" },
        { "versions of an invalid prompt id", "GET", "/v1/prompts/bad%20id/versions", null, Json, U1, 400, "validation_failed" },
        { "versions limit zero", "GET", "/v1/prompts/seed/versions?limit=0", null, Json, U1, 400, "validation_failed" },
        { "prompt list limit zero", "GET", "/v1/prompts?limit=0", null, Json, U1, 400, "validation_failed" },
        { "prompt list limit too large", "GET", "/v1/prompts?limit=1001", null, Json, U1, 400, "validation_failed" },
        { "start on another tenant's prompt", "POST", "/v1/instances", """{"promptId":"u1-only"}""", Json, U2, 404, "prompt_not_found" },
        { "prompt scope the key lacks", "PUT", "/v1/prompts/x?scope=project", """{"name":"n","messages":[{"role":"user","content":"x"}]}""", Json, U2, 400, "validation_failed" },
        { "prompt scope builtin", "PUT", "/v1/prompts/x?scope=builtin", """{"name":"n","messages":[{"role":"user","content":"x"}]}""", Json, U1, 400, "validation_failed" },
        { "prompt scope unknown", "PUT", "/v1/prompts/x?scope=galaxy", """{"name":"n","messages":[{"role":"user","content":"x"}]}""", Json, U1, 400, "validation_failed" },
        { "another tenant's run", "GET", "/v1/runs/{runU1}", null, Json, U2, 404, "run_not_found" },
        { "unknown run", "GET", "/v1/runs/nope", null, Json, U1, 404, "run_not_found" },
        { "stream token for another tenant's instance", "POST", "/v1/instances/inst-u1/stream-tokens", "{}", Json, U2, 404, "instance_not_found" },
        { "stream token for an unknown instance", "POST", "/v1/instances/nope/stream-tokens", "{}", Json, U1, 404, "instance_not_found" },
        { "stream token used as a key", "GET", "/v1/instances/inst-u1?access_token=x.y", null, Json, null, 401, "unauthorized" },
        { "unknown run of another tenant's instance", "GET", "/v1/runs/inst-u1.0123456789abcdef", null, Json, U2, 404, "run_not_found" },
        { "unknown run of an unknown instance", "GET", "/v1/runs/no-such.0123456789abcdef", null, Json, U1, 404, "run_not_found" },
        { "unknown run of one's own instance", "GET", "/v1/runs/inst-u1.0123456789abcdef", null, Json, U1, 404, "run_not_found" },
        { "another tenant's run list", "GET", "/v1/runs?userId=u2", null, Json, U1, 403, "forbidden" },
        { "run list limit zero", "GET", "/v1/runs?limit=0", null, Json, U1, 400, "validation_failed" },
        { "run list limit over 1000", "GET", "/v1/runs?limit=1001", null, Json, U1, 400, "validation_failed" },
        { "invalid prompt id", "PUT", "/v1/prompts/bad%20id", """{"name":"n","messages":[{"role":"user","content":"x"}]}""", Json, U1, 400, "validation_failed" },
        { "prompt without messages", "PUT", "/v1/prompts/x", """{"name":"n","messages":[]}""", Json, U1, 400, "validation_failed" },
        { "prompt with a bad role", "PUT", "/v1/prompts/x", """{"name":"n","messages":[{"role":"robot","content":"x"}]}""", Json, U1, 400, "validation_failed" },
        { "prompt temperature out of range", "PUT", "/v1/prompts/x", """{"name":"n","messages":[{"role":"user","content":"x"}],"settings":{"temperature":9}}""", Json, U1, 400, "validation_failed" },
        { "prompt topK zero", "PUT", "/v1/prompts/x", """{"name":"n","messages":[{"role":"user","content":"x"}],"settings":{"topK":0}}""", Json, U1, 400, "validation_failed" },
        { "prompt frequency penalty out of range", "PUT", "/v1/prompts/x", """{"name":"n","messages":[{"role":"user","content":"x"}],"settings":{"frequencyPenalty":2.5}}""", Json, U1, 400, "validation_failed" },
        { "prompt presence penalty out of range", "PUT", "/v1/prompts/x", """{"name":"n","messages":[{"role":"user","content":"x"}],"settings":{"presencePenalty":-3}}""", Json, U1, 400, "validation_failed" },
        { "prompt response format unknown type", "PUT", "/v1/prompts/x", """{"name":"n","messages":[{"role":"user","content":"x"}],"settings":{"responseFormat":"xml"}}""", Json, U1, 400, "validation_failed" },
        { "prompt response format not a string or object", "PUT", "/v1/prompts/x", """{"name":"n","messages":[{"role":"user","content":"x"}],"settings":{"responseFormat":5}}""", Json, U1, 400, "validation_failed" },
        { "prompt json_schema without a name", "PUT", "/v1/prompts/x", """{"name":"n","messages":[{"role":"user","content":"x"}],"settings":{"responseFormat":{"type":"json_schema","schema":{"type":"object"}}}}""", Json, U1, 400, "validation_failed" },
        { "prompt json_schema without a schema", "PUT", "/v1/prompts/x", """{"name":"n","messages":[{"role":"user","content":"x"}],"settings":{"responseFormat":{"type":"json_schema","name":"s"}}}""", Json, U1, 400, "validation_failed" },
        { "prompt json_schema that is not JSON Schema", "PUT", "/v1/prompts/x", """{"name":"n","messages":[{"role":"user","content":"x"}],"settings":{"responseFormat":{"type":"json_schema","name":"s","schema":{"type":5}}}}""", Json, U1, 400, "validation_failed" },
        { "prompt response format unknown field", "PUT", "/v1/prompts/x", """{"name":"n","messages":[{"role":"user","content":"x"}],"settings":{"responseFormat":{"type":"json","shape":1}}}""", Json, U1, 400, "validation_failed" },
        { "prompt response format schema on json", "PUT", "/v1/prompts/x", """{"name":"n","messages":[{"role":"user","content":"x"}],"settings":{"responseFormat":{"type":"json","schema":{}}}}""", Json, U1, 400, "validation_failed" },
        { "prompt reasoning effort unknown", "PUT", "/v1/prompts/x", """{"name":"n","messages":[{"role":"user","content":"x"}],"settings":{"reasoningEffort":"ultra"}}""", Json, U1, 400, "validation_failed" },
        { "prompt additional property reserved", "PUT", "/v1/prompts/x", """{"name":"n","messages":[{"role":"user","content":"x"}],"settings":{"additionalProperties":{"model":"gpt-5"}}}""", Json, U1, 400, "validation_failed" },
        { "prompt additional property bad name", "PUT", "/v1/prompts/x", """{"name":"n","messages":[{"role":"user","content":"x"}],"settings":{"additionalProperties":{"a.b":1}}}""", Json, U1, 400, "validation_failed" },
        { "fork without a position", "POST", "/v1/instances/inst-u1/fork", "{}", Json, U1, 400, "validation_failed" },
        { "fork at zero", "POST", "/v1/instances/inst-u1/fork", """{"at":0}""", Json, U1, 400, "validation_failed" },
        { "fork with an unknown field", "POST", "/v1/instances/inst-u1/fork", """{"at":1,"when":2}""", Json, U1, 400, "validation_failed" },
        { "fork into a bad id", "POST", "/v1/instances/inst-u1/fork", """{"at":1,"instanceId":"bad id!"}""", Json, U1, 400, "validation_failed" },
        { "fork into a taken id", "POST", "/v1/instances/inst-u1/fork", """{"at":1,"instanceId":"inst-u1"}""", Json, U1, 409, "instance_exists" },
        { "fork of an unknown instance", "POST", "/v1/instances/nope/fork", """{"at":1}""", Json, U1, 404, "instance_not_found" },
        { "history at zero", "GET", "/v1/instances/inst-u1/history?at=0", null, Json, U1, 400, "validation_failed" },
        { "history at not a number", "GET", "/v1/instances/inst-u1/history?at=two", null, Json, U1, 400, "validation_failed" },
        { "history of an unknown instance", "GET", "/v1/instances/nope/history", null, Json, U1, 404, "instance_not_found" },
        { "decision neither approve nor reject", "POST", "/v1/instances/inst-u1/approvals/call_1", """{"decision":"maybe"}""", Json, U1, 400, "validation_failed" },
        { "decision without a body", "POST", "/v1/instances/inst-u1/approvals/call_1", "{}", Json, U1, 400, "validation_failed" },
        { "decision with an unknown field", "POST", "/v1/instances/inst-u1/approvals/call_1", """{"decision":"approve","who":"me"}""", Json, U1, 400, "validation_failed" },
        { "decision reason too long", "POST", "/v1/instances/inst-u1/approvals/call_1", "{\"decision\":\"reject\",\"reason\":\"" + new string('r', 1001) + "\"}", Json, U1, 400, "validation_failed" },
        { "decision for a call nobody waits for", "POST", "/v1/instances/inst-u1/approvals/call_1", """{"decision":"approve"}""", Json, U1, 404, "tool_call_not_found" },
        { "decision on another tenant's instance", "POST", "/v1/instances/inst-u2/approvals/call_1", """{"decision":"approve"}""", Json, U1, 404, "instance_not_found" },
        { "decision on an unknown instance", "POST", "/v1/instances/nope/approvals/call_1", """{"decision":"approve"}""", Json, U1, 404, "instance_not_found" },
        { "prompt offers an unknown tool", "PUT", "/v1/prompts/x", """{"name":"n","messages":[{"role":"user","content":"x"}],"settings":{"tools":["launch_rockets"]}}""", Json, U1, 400, "validation_failed" },
        { "prompt tool name invalid", "PUT", "/v1/prompts/x", """{"name":"n","messages":[{"role":"user","content":"x"}],"settings":{"tools":["no spaces"]}}""", Json, U1, 400, "validation_failed" },
        { "prompt tool choice not offered", "PUT", "/v1/prompts/x", """{"name":"n","messages":[{"role":"user","content":"x"}],"settings":{"tools":["lookup_order"],"toolChoice":"refund_order"}}""", Json, U1, 400, "validation_failed" },
        { "prompt maxIterations zero", "PUT", "/v1/prompts/x", """{"name":"n","messages":[{"role":"user","content":"x"}],"settings":{"tools":["lookup_order"],"maxIterations":0}}""", Json, U1, 400, "validation_failed" },
        { "prompt tools not a list", "PUT", "/v1/prompts/x", """{"name":"n","messages":[{"role":"user","content":"x"}],"settings":{"tools":"lookup_order"}}""", Json, U1, 400, "validation_failed" },
        { "prompt message with the tool role", "PUT", "/v1/prompts/x", """{"name":"n","messages":[{"role":"tool","content":"x"}]}""", Json, U1, 400, "validation_failed" },
        { "prompt repairAttempts out of range", "PUT", "/v1/prompts/x", """{"name":"n","messages":[{"role":"user","content":"x"}],"settings":{"repairAttempts":9}}""", Json, U1, 400, "validation_failed" },
        { "message settings change repairAttempts", "POST", "/v1/instances/inst-u1/messages", """{"userInput":"x","settings":{"repairAttempts":0}}""", Json, U1, 400, "validation_failed" },
        { "message settings change the tools", "POST", "/v1/instances/inst-u1/messages", """{"userInput":"x","settings":{"tools":["lookup_order"]}}""", Json, U1, 400, "validation_failed" },
        { "start with a client tool of a bad name", "POST", "/v1/instances", """{"promptId":"seed","clientTools":[{"name":"no spaces"}]}""", Json, U1, 400, "validation_failed" },
        { "start with a client tool with an unknown field", "POST", "/v1/instances", """{"promptId":"seed","clientTools":[{"name":"where","gps":true}]}""", Json, U1, 400, "validation_failed" },
        { "tool results not a list", "POST", "/v1/instances/inst-u1/tool-results", """{"callId":"c1","result":"x"}""", Json, U1, 400, "validation_failed" },
        { "tool results empty", "POST", "/v1/instances/inst-u1/tool-results", "[]", Json, U1, 400, "validation_failed" },
        { "tool result without a result", "POST", "/v1/instances/inst-u1/tool-results", """[{"callId":"c1"}]""", Json, U1, 400, "validation_failed" },
        { "tool result with an unknown field", "POST", "/v1/instances/inst-u1/tool-results", """[{"callId":"c1","result":1,"ok":true}]""", Json, U1, 400, "validation_failed" },
        { "tool result for a call not awaiting", "POST", "/v1/instances/inst-u1/tool-results", """[{"callId":"c1","result":"x"}]""", Json, U1, 409, "tool_call_not_awaiting" },
        { "tool results for another tenant's instance", "POST", "/v1/instances/inst-u2/tool-results", """[{"callId":"c1","result":"x"}]""", Json, U1, 404, "instance_not_found" },
        { "prompt client tool named like a server tool", "PUT", "/v1/prompts/x", """{"name":"n","messages":[{"role":"user","content":"x"}],"settings":{"tools":["lookup_order"],"clientTools":[{"name":"lookup_order"}]}}""", Json, U1, 400, "validation_failed" },
        { "prompt client tool parameters not a schema", "PUT", "/v1/prompts/x", """{"name":"n","messages":[{"role":"user","content":"x"}],"settings":{"clientTools":[{"name":"where","parameters":[1]}]}}""", Json, U1, 400, "validation_failed" },
        { "prompt client tool unknown field", "PUT", "/v1/prompts/x", """{"name":"n","messages":[{"role":"user","content":"x"}],"settings":{"clientTools":[{"name":"where","kind":"gps"}]}}""", Json, U1, 400, "validation_failed" },
        { "message settings change the model", "POST", "/v1/instances/inst-u1/messages", """{"userInput":"x","settings":{"model":"local"}}""", Json, U1, 400, "validation_failed" },
        { "message settings change the response format", "POST", "/v1/instances/inst-u1/messages", """{"userInput":"x","settings":{"responseFormat":"json"}}""", Json, U1, 400, "validation_failed" },
        { "message settings temperature out of range", "POST", "/v1/instances/inst-u1/messages", """{"userInput":"x","settings":{"temperature":7}}""", Json, U1, 400, "validation_failed" },
        { "message settings unknown field", "POST", "/v1/instances/inst-u1/messages", """{"userInput":"x","settings":{"warmth":1}}""", Json, U1, 400, "validation_failed" },
        { "prompt seed not a number", "PUT", "/v1/prompts/x", """{"name":"n","messages":[{"role":"user","content":"x"}],"settings":{"seed":"abc"}}""", Json, U1, 400, "validation_failed" },
        { "prompt stop sequence null", "PUT", "/v1/prompts/x", """{"name":"n","messages":[{"role":"user","content":"x"}],"settings":{"stop":[null]}}""", Json, U1, 400, "validation_failed" },
        { "prompt stop sequence empty", "PUT", "/v1/prompts/x", """{"name":"n","messages":[{"role":"user","content":"x"}],"settings":{"stop":[""]}}""", Json, U1, 400, "validation_failed" },
        { "prompt with 17 stop sequences", "PUT", "/v1/prompts/x", "{\"name\":\"n\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"settings\":{\"stop\":[" + string.Join(",", Enumerable.Range(0, 17).Select(i => $"\"s{i}\"")) + "]}}", Json, U1, 400, "validation_failed" },
        { "prompt id differs from URL", "PUT", "/v1/prompts/x", """{"id":"y","name":"n","messages":[{"role":"user","content":"x"}]}""", Json, U1, 400, "validation_failed" },
        { "prompt unknown field", "PUT", "/v1/prompts/x", """{"name":"n","messages":[{"role":"user","content":"x"}],"temprature":1}""", Json, U1, 400, "validation_failed" },
        { "unknown prompt", "GET", "/v1/prompts/nope", null, Json, U1, 404, "prompt_not_found" },
        { "prompt version zero", "GET", "/v1/prompts/seed?version=0", null, Json, U1, 400, "validation_failed" },
        { "another tenant's org variables", "PUT", "/v1/scopes/org/o2/variables", """{"a":"b"}""", Json, U1, 404, "not_found" },
        { "another user's variables", "GET", "/v1/scopes/user/u2/variables", null, Json, U1, 404, "not_found" },
        { "unknown scope kind", "PUT", "/v1/scopes/galaxy/o1/variables", """{"a":"b"}""", Json, U1, 400, "validation_failed" },
        { "combined scope kinds", "PUT", "/v1/scopes/user,org/o1/variables", """{"a":"b"}""", Json, U1, 400, "validation_failed" },
        { "numeric scope kind", "GET", "/v1/scopes/1/o1/variables", null, Json, U1, 400, "validation_failed" },
        { "combined missing-variable policies", "PUT", "/v1/prompts/x", """{"name":"n","messages":[{"role":"user","content":"x"}],"missingVariables":"keep,empty"}""", Json, U1, 400, "validation_failed" },
        { "numeric missing-variable policy", "PUT", "/v1/prompts/x", """{"name":"n","messages":[{"role":"user","content":"x"}],"missingVariables":"1"}""", Json, U1, 400, "validation_failed" },
        { "scope value not a string", "PUT", "/v1/scopes/user/u1/variables", """{"a":1}""", Json, U1, 400, "validation_failed" },
        { "scope bad variable name", "PUT", "/v1/scopes/user/u1/variables", """{"a b":"c"}""", Json, U1, 400, "validation_failed" },
        { "key without a body", "POST", "/v1/keys", "", Json, Admin, 400, "validation_failed" },
        { "key without a scope", "POST", "/v1/keys", """{"role":"runner"}""", Json, Admin, 400, "validation_failed" },
        { "key with a bad user id", "POST", "/v1/keys", """{"scope":{"userId":"a b"},"role":"runner"}""", Json, Admin, 400, "validation_failed" },
        { "key with an unknown role", "POST", "/v1/keys", """{"scope":{"userId":"u3"},"role":"root"}""", Json, Admin, 400, "validation_failed" },
        { "key with a numeric role", "POST", "/v1/keys", """{"scope":{"userId":"u3"},"role":"2"}""", Json, Admin, 400, "validation_failed" },
        { "key with a name too long", "POST", "/v1/keys", "{\"scope\":{\"userId\":\"u3\"},\"role\":\"runner\",\"name\":\"" + new string('n', 201) + "\"}", Json, Admin, 400, "validation_failed" },
        { "key with an unknown field", "POST", "/v1/keys", """{"scope":{"userId":"u3"},"role":"runner","secret":"x"}""", Json, Admin, 400, "validation_failed" },
        { "key issued by an editor", "POST", "/v1/keys", """{"scope":{"userId":"u1"},"role":"admin"}""", Json, U1, 403, "forbidden" },
        { "keys listed by an editor", "GET", "/v1/keys", null, Json, U1, 403, "forbidden" },
        { "key revoked by an editor", "DELETE", "/v1/keys/key_nope", null, Json, U1, 403, "forbidden" },
        { "unknown key revoked", "DELETE", "/v1/keys/key_nope", null, Json, Admin, 404, "key_not_found" },
        { "invalid key id revoked", "DELETE", "/v1/keys/a%20b", null, Json, Admin, 400, "validation_failed" },
        { "configured key revoked", "DELETE", "/v1/keys/config-" + PromptActors.Host.Auth.ApiKeyHasher.Hash(U1)[7..19], null, Json, Admin, 400, "validation_failed" },
        { "unknown route", "GET", "/v1/nothing-here", null, Json, U1, 404, "not_found" },
        { "wrong method", "DELETE", "/v1/prompts/seed", null, Json, U1, 405, "method_not_allowed" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Bad_request_gets_the_right_status_and_code_and_changes_nothing(string name, string method, string url,
        string? body, string contentType, string? key, int status, string code)
    {
        var http = seeded.Host.Client(key);
        var owner = seeded.Host.Client(U1);
        var admin = seeded.Host.Client(Admin);
        var before = await Snapshot(owner, admin, seeded.Host.DatabasePath);

        var request = new HttpRequestMessage(new HttpMethod(method), url.Replace("{runU1}", seeded.RunU1).Replace("{shaU1}", seeded.ShaU1).Split('#')[0]);
        if (url.Contains("#last="))
            request.Headers.Add("Last-Event-ID", url.Split("#last=")[1]);
        if (body is not null)
            request.Content = new StringContent(body, Encoding.UTF8, contentType);
        var response = await http.SendAsync(request);

        Assert.True(status == (int)response.StatusCode, $"{name}: expected {status}, got {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Json();
        Assert.Equal(code, problem.GetProperty("code").GetString());
        Assert.Equal(status, problem.GetProperty("status").GetInt32());
        Assert.Equal(before, await Snapshot(owner, admin, seeded.Host.DatabasePath));
    }

    /// <summary>What a bad request must not change: the seeded instances' conversation, variables and task counts, the prompts, the keys.</summary>
    private static async Task<string> Snapshot(HttpClient owner, HttpClient admin, string database)
    {
        await using var db = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={database}");
        await db.OpenAsync();
        await using var count = db.CreateCommand();
        count.CommandText = "SELECT COUNT(*) FROM attachments";
        var attachments = (long)(await count.ExecuteScalarAsync())!;
        var view = await (await owner.GetAsync("/v1/instances/inst-u1")).Json();
        return JsonSerializer.Serialize(new
        {
            status = view.GetProperty("status").GetString(),
            messages = view.GetProperty("conversation").GetProperty("messages").GetArrayLength(),
            user = view.GetProperty("variables").GetProperty("userValues").ToString(),
            tasks = view.GetProperty("runTracking").GetProperty("taskCount").GetInt32(),
            prompt = (await (await owner.GetAsync("/v1/prompts/seed")).Json()).GetProperty("version").GetInt32(),
            text = (await (await owner.GetAsync("/v1/prompts/u1-only")).Json()).GetProperty("messages").ToString(),
            keys = (await (await admin.GetAsync("/v1/keys")).Json()).GetProperty("keys").ToString(),
            attachments,
        });
    }
}
