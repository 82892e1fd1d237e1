using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace PromptActors.Host.Tests;

/// <summary>Tenant A's data (a prompt, org and project variables, an instance with a finished turn, its run) and every log entry.</summary>
public sealed class TenantAHost : HostFixture
{
    public CapturingLoggerProvider Logs { get; } = new();
    public string RunId { get; private set; } = "";

    /// <summary>Values only tenant A may ever see: none may appear in another tenant's answers or in the log.</summary>
    public static readonly string[] Secrets = ["SECRET-A-PROMPT", "SECRET-A-ORG", "SECRET-A-PROJECT", "SECRET-A-VAR", "SECRET-A-MSG"];

    protected override Task<IReadOnlyDictionary<string, string?>> ExtraSettingsAsync() =>
        Task.FromResult<IReadOnlyDictionary<string, string?>>(new Dictionary<string, string?> { ["Logging:LogLevel:Default"] = "Debug" });

    protected override void Customize(WebApplicationBuilder builder) => builder.Logging.AddProvider(Logs);

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        var a = Client(KeyU1);
        Check(await a.PutJson("/v1/prompts/a-prompt", """{"name":"A","messages":[{"role":"system","content":"SECRET-A-PROMPT {{city}} {{org_note}} {{project_note}}"}],"settings":{"model":"local"}}"""));
        Check(await a.PutJson("/v1/scopes/org/o1/variables", """{"org_note":"SECRET-A-ORG"}"""));
        Check(await a.PutJson("/v1/scopes/project/p1/variables", """{"project_note":"SECRET-A-PROJECT"}"""));
        Check(await a.PostJson("/v1/instances", """{"promptId":"a-prompt","instanceId":"a-inst","variables":{"city":"SECRET-A-VAR"},"executionConfig":{"allowChat":true}}"""));
        var accepted = await a.PostJson("/v1/instances/a-inst/messages", """{"userInput":"SECRET-A-MSG"}""");
        Check(accepted);
        RunId = (await accepted.Json()).GetProperty("runId").GetString()!;
        await a.GetStringAsync("/v1/instances/a-inst/stream");
        Check(await a.PostJson("/v1/instances", """{"promptId":"a-prompt","instanceId":"a-taken","variables":{"city":"SECRET-A-VAR"}}"""));
    }

    private static void Check(HttpResponseMessage response)
    {
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"seeding failed: {(int)response.StatusCode} {response.Content.ReadAsStringAsync().Result}");
    }
}

/// <summary>
/// Tenancy over HTTP with three keys: A (u1, o1, p1), B (u2, o2) and C (u1 again, in org o3). For every endpoint, each of
/// A's ids or scopes, used by B or C, gets exactly the answer an unknown id or scope gets (status, code and text, the id
/// aside); A's data is byte-identical afterwards; none of A's values appears in any answer or in the host log.
/// </summary>
public sealed class TenancySuiteTests(TenantAHost host) : IClassFixture<TenantAHost>
{
    private const string Unknown = "no-such-thing";

    // method, url with {id} for the foreign or unknown id, body; the first column names the case.
    public static TheoryData<string, string, string, string?> Calls => new()
    {
        { "read an instance", "GET", "/v1/instances/{inst}", null },
        { "read the history", "GET", "/v1/instances/{inst}/history", null },
        { "read the history as of an event", "GET", "/v1/instances/{inst}/history?at=2", null },
        { "fork", "POST", "/v1/instances/{inst}/fork", """{"at":2}""" },
        { "patch variables", "PATCH", "/v1/instances/{inst}/variables", """{"city":"x"}""" },
        { "send a message", "POST", "/v1/instances/{inst}/messages", """{"userInput":"hi"}""" },
        { "send a streamed message", "POST", "/v1/instances/{inst}/messages?stream=true", """{"userInput":"hi"}""" },
        { "open the stream", "GET", "/v1/instances/{inst}/stream", null },
        { "resume the stream", "GET", "/v1/instances/{inst}/stream?from=1", null },
        { "get a stream token", "POST", "/v1/instances/{inst}/stream-tokens", "{}" },
        { "cancel", "POST", "/v1/instances/{inst}/cancel", "{}" },
        { "delete", "DELETE", "/v1/instances/{inst}", null },
        { "read the run", "GET", "/v1/runs/{run}", null },
        { "read a prompt", "GET", "/v1/prompts/{prompt}", null },
        { "read a prompt version", "GET", "/v1/prompts/{prompt}?version=1", null },
        { "start on a prompt", "POST", "/v1/instances", """{"promptId":"{prompt}"}""" },
        { "read org variables", "GET", "/v1/scopes/org/{org}/variables", null },
        { "write org variables", "PUT", "/v1/scopes/org/{org}/variables", """{"org_note":"x"}""" },
        { "read project variables", "GET", "/v1/scopes/project/{project}/variables", null },
        { "write project variables", "PUT", "/v1/scopes/project/{project}/variables", """{"project_note":"x"}""" },
    };

    public static IEnumerable<object[]> CallsByStranger() =>
        from call in Calls
        from stranger in new[] { "B", "C" }
        select new object[] { call[0], call[1], call[2], call[3]!, stranger };

    private string Key(string stranger) => stranger == "B" ? HostFixture.KeyU2 : HostFixture.KeyU1OtherOrg;

    private string Foreign(string url) => url
        .Replace("{inst}", "a-inst").Replace("{run}", host.RunId).Replace("{prompt}", "a-prompt")
        .Replace("{org}", "o1").Replace("{project}", "p1");

    private static string Unknowns(string url) => url
        .Replace("{inst}", Unknown).Replace("{run}", Unknown).Replace("{prompt}", Unknown)
        .Replace("{org}", Unknown).Replace("{project}", Unknown);

    [Theory]
    [MemberData(nameof(CallsByStranger))]
    public async Task A_foreign_id_answers_exactly_like_an_unknown_one_and_changes_nothing(string name, string method, string url,
        string? body, string stranger)
    {
        var before = await SnapshotOfA();
        var client = host.Client(Key(stranger));
        var foreign = await SendAsync(client, method, Foreign(url), body is null ? null : Foreign(body));
        var unknown = await SendAsync(client, method, Unknowns(url), body is null ? null : Unknowns(body));

        Assert.True(foreign.Status == unknown.Status, $"{name} by {stranger}: {foreign.Status} {foreign.Body} vs unknown {unknown.Status} {unknown.Body}");
        Assert.True(foreign.Status >= 400, $"{name} by {stranger} was allowed: {foreign.Status} {foreign.Body}");
        Assert.Equal(Normalize(unknown.Body, Unknowns(url)), Normalize(foreign.Body, Foreign(url)));
        foreach (var secret in TenantAHost.Secrets)
            Assert.DoesNotContain(secret, foreign.Body);
        Assert.Equal(before, await SnapshotOfA());
    }

    [Theory]
    [InlineData("B")]
    [InlineData("C")]
    public async Task Starting_with_an_id_another_tenant_uses_makes_ones_own_instance_as_for_an_unused_id(string stranger)
    {
        var a = host.Client(HostFixture.KeyU1);
        var aBefore = WithoutClock(await a.GetStringAsync("/v1/instances/a-taken"));
        var client = host.Client(Key(stranger));
        var started = await client.PostJson("/v1/instances", """{"promptId":"chat-assistant","instanceId":"a-taken"}""");
        var body = await started.Content.ReadAsStringAsync();
        Assert.True(started.StatusCode == HttpStatusCode.Created, $"{(int)started.StatusCode} {body}");
        var view = JsonDocument.Parse(body).RootElement;
        Assert.Equal("a-taken", view.GetProperty("instanceId").GetString());
        Assert.Equal("chat-assistant", view.GetProperty("promptId").GetString());
        foreach (var secret in TenantAHost.Secrets)
            Assert.DoesNotContain(secret, body);
        // Its own from now on (a second start is its own instance_exists); A's is untouched.
        var again = await client.PostJson("/v1/instances", """{"promptId":"chat-assistant","instanceId":"a-taken"}""");
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Equal("chat-assistant", (await (await client.GetAsync("/v1/instances/a-taken")).Json()).GetProperty("promptId").GetString());
        Assert.Equal(aBefore, WithoutClock(await a.GetStringAsync("/v1/instances/a-taken")));
    }

    [Fact]
    public async Task A_tenants_run_list_shows_none_of_another_tenants_runs()
    {
        foreach (var key in new[] { HostFixture.KeyU2, HostFixture.KeyU1OtherOrg })
        {
            var body = await (await host.Client(key).GetAsync("/v1/runs")).Content.ReadAsStringAsync();
            Assert.DoesNotContain(host.RunId, body);
            foreach (var secret in TenantAHost.Secrets)
                Assert.DoesNotContain(secret, body);
        }
    }

    [Fact]
    public async Task None_of_a_tenants_values_is_ever_logged()
    {
        // After the seeding and whatever the other tests of this class sent.
        await host.Client(HostFixture.KeyU1).GetStringAsync("/v1/instances/a-inst");
        Assert.NotEmpty(host.Logs.Entries);
        foreach (var entry in host.Logs.Entries)
            foreach (var secret in TenantAHost.Secrets)
                Assert.False(entry.Message.Contains(secret, StringComparison.Ordinal), $"{entry.Category} logged {secret}: {entry.Message}");
        foreach (var key in new[] { HostFixture.KeyU1, HostFixture.KeyU2, HostFixture.KeyU1OtherOrg })
            Assert.DoesNotContain(host.Logs.Entries, e => e.Message.Contains(key, StringComparison.Ordinal));
    }

    private async Task<string> SnapshotOfA()
    {
        var a = host.Client(HostFixture.KeyU1);
        var parts = new List<string>();
        foreach (var url in new[] { "/v1/instances/a-inst", $"/v1/runs/{host.RunId}", "/v1/prompts/a-prompt", "/v1/scopes/org/o1/variables",
                     "/v1/scopes/project/p1/variables" })
            parts.Add(url + " " + await a.GetStringAsync(url));
        return WithoutClock(string.Join("\n", parts));
    }

    /// <summary>The clock's computed variables (current_date, current_datetime, current_time) change by themselves.</summary>
    private static string WithoutClock(string text) =>
        System.Text.RegularExpressions.Regex.Replace(text,
            "\"current_(date|datetime|time)\"\\s*:\\s*(\"[^\"]*\"|\\{[^}]*\\})", "\"current_$1\":\"<clock>\"");

    private static async Task<(int Status, string Body)> SendAsync(HttpClient client, string method, string url, string? body)
    {
        var request = new HttpRequestMessage(new HttpMethod(method), url);
        if (body is not null)
            request.Content = new StringContent(body, Encoding.UTF8, method == "PATCH" ? "application/merge-patch+json" : "application/json");
        using var response = await client.SendAsync(request);
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>The answer with the id it names and its trace id taken out.</summary>
    private static string Normalize(string body, string url)
    {
        if (!body.StartsWith('{'))
            return body;
        var doc = JsonDocument.Parse(body).RootElement;
        var detail = doc.TryGetProperty("detail", out var d) ? d.GetString() ?? "" : "";
        foreach (var id in new[] { "a-inst", "a-prompt", "o1", "p1", Unknown }.Append(url.Split('/').Last()))
            detail = detail.Replace($"'{id}'", "'<id>'");
        return $"{doc.GetProperty("status").GetInt32()} {doc.GetProperty("code").GetString()} {detail}";
    }
}
