using System.Net;
using System.Text;
using PromptActors.Host.Auth;

namespace PromptActors.Host.Tests;

/// <summary>Each role × each endpoint: allowed, or <c>403 forbidden</c> with nothing changed; and browsers through CORS.</summary>
public sealed class RoleTests(HostFixture host) : IClassFixture<HostFixture>, IAsyncLifetime
{
    private string _runId = "";

    public async Task InitializeAsync()
    {
        var editor = host.Client(HostFixture.KeyU1);
        Check(await editor.PutJson("/v1/prompts/role-p", """{"name":"R","messages":[{"role":"system","content":"Hi"}],"settings":{"model":"local"}}"""));
        var start = await editor.PostJson("/v1/instances", """{"promptId":"role-p","instanceId":"role-i"}""");
        if (start.StatusCode != HttpStatusCode.Conflict) // a second test of the class finds it started
        {
            Check(start);
            Check(await editor.PostJson("/v1/instances/role-i/messages", "{}"));
            await editor.GetStringAsync("/v1/instances/role-i/stream");
        }
        var view = await (await editor.GetAsync("/v1/instances/role-i")).Json();
        _runId = view.GetProperty("runTracking").GetProperty("runId").GetString()!;
    }

    public Task DisposeAsync() => Task.CompletedTask;

    private static void Check(HttpResponseMessage r) =>
        Assert.True(r.IsSuccessStatusCode, $"{r.RequestMessage?.Method} {r.RequestMessage?.RequestUri}: {(int)r.StatusCode}");

    private const string Prompt = """{"name":"R2","messages":[{"role":"system","content":"Changed"}],"settings":{"model":"local"}}""";

    public static TheoryData<string, string, string?, ApiRole> Endpoints => new()
    {
        { "PUT", "/v1/prompts/role-p", Prompt, ApiRole.Editor },
        { "GET", "/v1/prompts/role-p", null, ApiRole.Runner },
        { "PUT", "/v1/scopes/user/u1/variables", """{"tone":"calm"}""", ApiRole.Editor },
        { "GET", "/v1/scopes/user/u1/variables", null, ApiRole.Editor },
        { "POST", "/v1/instances", """{"promptId":"role-p"}""", ApiRole.Runner },
        { "GET", "/v1/instances/role-i", null, ApiRole.Runner },
        { "GET", "/v1/instances/role-i/history", null, ApiRole.Runner },
        { "POST", "/v1/instances/role-i/fork", """{"at":1}""", ApiRole.Runner },
        { "PATCH", "/v1/instances/role-i/variables", """{"x":"1"}""", ApiRole.Runner },
        { "POST", "/v1/instances/role-i/messages", """{"userInput":"again"}""", ApiRole.Runner },
        { "GET", "/v1/instances/role-i/stream", null, ApiRole.Runner },
        { "POST", "/v1/instances/role-i/stream-tokens", "{}", ApiRole.Runner },
        { "POST", "/v1/instances/role-i/cancel", "{}", ApiRole.Runner },
        { "DELETE", "/v1/instances/role-nope", null, ApiRole.Runner },
        { "GET", "/v1/runs/{run}", null, ApiRole.Runner },
        { "GET", "/v1/runs", null, ApiRole.Runner },
        { "POST", "/v1/keys", """{"scope":{"userId":"u1"},"role":"runner"}""", ApiRole.Admin },
        { "GET", "/v1/keys", null, ApiRole.Admin },
        { "DELETE", "/v1/keys/key_none", null, ApiRole.Admin },
        { "GET", "/metrics", null, ApiRole.Admin },
        { "GET", "/clusterz", null, ApiRole.Admin },
        { "GET", "/openapi/v1.json", null, ApiRole.Admin },
    };

    [Theory]
    [MemberData(nameof(Endpoints))]
    public async Task Each_role_is_allowed_exactly_what_it_includes(string method, string url, string? body, ApiRole needs)
    {
        foreach (var (role, key) in new[] { (ApiRole.Runner, HostFixture.KeyRunner), (ApiRole.Editor, HostFixture.KeyU1), (ApiRole.Admin, HostFixture.KeyAdmin) })
        {
            var promptBefore = await (await host.Client(HostFixture.KeyU1).GetAsync("/v1/prompts/role-p")).Content.ReadAsStringAsync();
            var request = new HttpRequestMessage(new HttpMethod(method), url.Replace("{run}", _runId));
            if (body is not null)
                request.Content = new StringContent(body, Encoding.UTF8, method == "PATCH" ? "application/merge-patch+json" : "application/json");
            var response = await host.Client(key).SendAsync(request);

            if (role >= needs)
            {
                Assert.True(response.StatusCode is not (HttpStatusCode.Forbidden or HttpStatusCode.Unauthorized),
                    $"{role} {method} {url}: {(int)response.StatusCode}");
                continue;
            }
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType!.MediaType);
            Assert.Equal("forbidden", (await response.Json()).GetProperty("code").GetString());
            Assert.Equal(promptBefore, await (await host.Client(HostFixture.KeyU1).GetAsync("/v1/prompts/role-p")).Content.ReadAsStringAsync());
        }
    }

    [Theory]
    [InlineData("/metrics")]
    [InlineData("/clusterz")]
    [InlineData("/openapi/v1.json")]
    public async Task Operations_endpoints_need_a_key_and_health_probes_do_not(string url)
    {
        var anonymous = host.Client(key: null);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync(url)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/readyz")).StatusCode);
    }

    [Fact]
    public async Task A_listed_origin_gets_its_preflight_answered_without_a_key_and_reads_responses_and_streams()
    {
        var anonymous = host.Client(key: null);
        var preflight = new HttpRequestMessage(HttpMethod.Options, "/v1/instances");
        preflight.Headers.Add("Origin", HostFixture.AllowedOrigin);
        preflight.Headers.Add("Access-Control-Request-Method", "POST");
        preflight.Headers.Add("Access-Control-Request-Headers", "authorization,content-type");
        var answer = await anonymous.SendAsync(preflight);
        Assert.Equal(HttpStatusCode.NoContent, answer.StatusCode);
        Assert.Equal(HostFixture.AllowedOrigin, Assert.Single(answer.Headers.GetValues("Access-Control-Allow-Origin")));
        Assert.Contains("POST", answer.Headers.GetValues("Access-Control-Allow-Methods").Single());
        Assert.False(answer.Headers.Contains("Access-Control-Allow-Credentials"));

        foreach (var url in new[] { "/v1/instances/role-i", "/v1/instances/role-i/stream" })
        {
            var get = new HttpRequestMessage(HttpMethod.Get, url);
            get.Headers.Add("Origin", HostFixture.AllowedOrigin);
            using var response = await host.Client(HostFixture.KeyRunner).SendAsync(get, HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(HostFixture.AllowedOrigin, Assert.Single(response.Headers.GetValues("Access-Control-Allow-Origin")));
            Assert.Contains("X-PromptActors-Node", response.Headers.GetValues("Access-Control-Expose-Headers").Single());
        }
    }

    [Fact]
    public async Task Another_origin_gets_no_cors_headers()
    {
        var preflight = new HttpRequestMessage(HttpMethod.Options, "/v1/instances");
        preflight.Headers.Add("Origin", "http://evil.example");
        preflight.Headers.Add("Access-Control-Request-Method", "POST");
        var answer = await host.Client(key: null).SendAsync(preflight);
        Assert.False(answer.Headers.Contains("Access-Control-Allow-Origin"));

        var get = new HttpRequestMessage(HttpMethod.Get, "/v1/instances/role-i");
        get.Headers.Add("Origin", "http://evil.example");
        var response = await host.Client(HostFixture.KeyU1).SendAsync(get);
        Assert.False(response.Headers.Contains("Access-Control-Allow-Origin"));
    }

    [Theory]
    [InlineData("*")]
    [InlineData("https://app.example.com/")]
    [InlineData("https://app.example.com/path")]
    [InlineData("app.example.com")]
    [InlineData("ftp://app.example.com")]
    public void A_cors_origin_that_is_not_exact_is_a_configuration_error(string origin) =>
        Assert.Contains("exact origin", Assert.Single(CorsSetup.Validate([origin])));

    [Theory]
    [InlineData("root", false)]
    [InlineData("1", false)]
    [InlineData("", false)]
    [InlineData("runner", true)]
    [InlineData("Admin", true)]
    public void A_key_role_must_be_one_of_the_three(string role, bool valid)
    {
        var options = new AuthOptions { ApiKeys = [new ApiKeyEntry { KeyHash = ApiKeyHasher.Hash("k"), UserId = "u", Role = role }] };
        Assert.Equal(valid, options.Validate().Count == 0);
    }
}
