using System.Net;
using PromptActors.Host.Auth;

namespace PromptActors.Host.Tests;

/// <summary>An admin key acts in any scope by naming it (<c>PromptActors-Scope</c>); no other key may.</summary>
public sealed class ActAsTests(HostFixture host) : IClassFixture<HostFixture>
{
    private HttpClient AdminAs(string scope)
    {
        var client = host.Client(HostFixture.KeyAdmin);
        client.DefaultRequestHeaders.Add(ApiKeyMiddleware.ActAsHeader, scope);
        return client;
    }

    [Fact]
    public async Task An_admin_naming_a_scope_acts_as_that_tenant_and_its_tasks_record_the_admin_key()
    {
        var tenant = host.Client(HostFixture.KeyU2); // u2 / o2
        var started = await tenant.PostJson("/v1/instances", """{"promptId":"chat-assistant","instanceId":"act-1","executionConfig":{"allowChat":true}}""");
        Assert.Equal(HttpStatusCode.Created, started.StatusCode);

        // Its own scope does not hold the tenant's instance; the tenant's scope does.
        Assert.Equal(HttpStatusCode.NotFound, (await host.Client(HostFixture.KeyAdmin).GetAsync("/v1/instances/act-1")).StatusCode);
        var admin = AdminAs("u2/o2");
        Assert.Equal("act-1", (await (await admin.GetAsync("/v1/instances/act-1")).Json()).GetProperty("instanceId").GetString());
        // A part of the scope that differs is another tenant.
        Assert.Equal(HttpStatusCode.NotFound, (await AdminAs("u2").GetAsync("/v1/instances/act-1")).StatusCode);

        var accepted = await (await admin.PostJson("/v1/instances/act-1/messages", """{"userInput":"hello"}""")).Json();
        await admin.GetStringAsync("/v1/instances/act-1/stream");
        var run = await (await tenant.GetAsync($"/v1/runs/{accepted.GetProperty("runId").GetString()}")).Json();
        Assert.Equal("config-" + ApiKeyHasher.Hash(HostFixture.KeyAdmin)[7..19],
            Assert.Single(run.GetProperty("tasks").EnumerateArray()).GetProperty("keyId").GetString());

        // It starts instances and writes prompts in that scope, which the tenant then sees as its own.
        Assert.Equal(HttpStatusCode.OK, (await admin.PutJson("/v1/prompts/act-p",
            """{"name":"A","messages":[{"role":"system","content":"Hi"}],"settings":{"model":"local"}}""")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await tenant.GetAsync("/v1/prompts/act-p")).StatusCode);
        var other = await (await AdminAs("u5").PostJson("/v1/instances", """{"promptId":"chat-assistant","instanceId":"act-5"}""")).Json();
        Assert.Equal("u5", other.GetProperty("scope").GetProperty("userId").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await tenant.GetAsync("/v1/instances/act-5")).StatusCode);
    }

    [Theory]
    [InlineData(HostFixture.KeyU1, "u2/o2", 403, "forbidden")]
    [InlineData(HostFixture.KeyRunner, "u1/o1/p1", 403, "forbidden")]
    [InlineData(HostFixture.KeyAdmin, "a b", 400, "validation_failed")]
    [InlineData(HostFixture.KeyAdmin, "u1/o1/p1/x", 400, "validation_failed")]
    [InlineData(HostFixture.KeyAdmin, "u1//p1", 400, "validation_failed")]
    public async Task Naming_a_scope_needs_an_admin_key_and_a_valid_scope(string key, string scope, int status, string code)
    {
        var client = host.Client(key);
        client.DefaultRequestHeaders.Add(ApiKeyMiddleware.ActAsHeader, scope);
        var response = await client.GetAsync("/v1/runs");
        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal(code, (await response.Json()).GetProperty("code").GetString());
    }
}
