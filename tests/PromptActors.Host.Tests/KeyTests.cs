using System.Diagnostics;
using System.Net;
using System.Text.Json;

namespace PromptActors.Host.Tests;

/// <summary>Keys issued, used, listed and revoked through <c>/v1/keys</c>, on one node (SQLite).</summary>
public sealed class KeyTests(HostFixture host) : IClassFixture<HostFixture>
{
    private const string Prompt = """{"name":"K","messages":[{"role":"system","content":"Hi"}],"settings":{"model":"local"}}""";

    private async Task<(string Id, string Key)> IssueAsync(string body)
    {
        var response = await host.Client(HostFixture.KeyAdmin).PostJson("/v1/keys", body);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var issued = await response.Json();
        var id = issued.GetProperty("id").GetString()!;
        Assert.Equal($"/v1/keys/{id}", response.Headers.Location!.OriginalString);
        return (id, issued.GetProperty("key").GetString()!);
    }

    [Fact]
    public async Task An_issued_key_acts_in_its_scope_and_role_until_it_is_revoked()
    {
        var (id, key) = await IssueAsync("""{"name":"ci runner","scope":{"userId":"u7","orgId":"o7"},"role":"runner"}""");
        var runner = host.Client(key);

        // A runner in its scope: it may start instances there (on a built-in prompt) but not write prompts.
        var start = await runner.PostJson("/v1/instances", """{"promptId":"chat-assistant","instanceId":"key-i1"}""");
        Assert.True(start.IsSuccessStatusCode, await start.Content.ReadAsStringAsync());
        var view = await (await runner.GetAsync("/v1/instances/key-i1")).Json();
        Assert.Equal("u7", view.GetProperty("scope").GetProperty("userId").GetString());
        Assert.Equal("o7", view.GetProperty("scope").GetProperty("orgId").GetString());
        Assert.Equal(HttpStatusCode.Forbidden, (await runner.PutJson("/v1/prompts/k", Prompt)).StatusCode);
        // Its task rows record which key caused them.
        var accepted = await (await runner.PostJson("/v1/instances/key-i1/messages", """{"userInput":"hello"}""")).Json();
        await runner.GetStringAsync("/v1/instances/key-i1/stream");
        var run = await (await runner.GetAsync($"/v1/runs/{accepted.GetProperty("runId").GetString()}")).Json();
        Assert.Equal(id, Assert.Single(run.GetProperty("tasks").EnumerateArray()).GetProperty("keyId").GetString());
        Assert.Equal(HttpStatusCode.Forbidden, (await runner.GetAsync("/v1/keys")).StatusCode);
        // Another tenant's instance is unknown to it.
        Assert.Equal(HttpStatusCode.NotFound, (await host.Client(HostFixture.KeyU1).GetAsync("/v1/instances/key-i1")).StatusCode);

        // Listed without its secret or hash; its last use is recorded.
        var listed = await WaitForAsync(async () =>
        {
            var keys = await ListAsync();
            var mine = keys.Single(k => k.GetProperty("id").GetString() == id);
            return mine.GetProperty("lastUsedAt").ValueKind == JsonValueKind.String ? mine : (JsonElement?)null;
        });
        Assert.Equal("ci runner", listed.GetProperty("name").GetString());
        Assert.Equal("runner", listed.GetProperty("role").GetString());
        Assert.Equal("api", listed.GetProperty("source").GetString());
        Assert.Equal("config-" + PromptActors.Host.Auth.ApiKeyHasher.Hash(HostFixture.KeyAdmin)[7..19], listed.GetProperty("createdBy").GetString());
        Assert.Equal(JsonValueKind.Null, listed.GetProperty("revokedAt").ValueKind);
        var body = await (await host.Client(HostFixture.KeyAdmin).GetAsync("/v1/keys")).Content.ReadAsStringAsync();
        Assert.DoesNotContain(key, body);
        Assert.DoesNotContain(PromptActors.Host.Auth.ApiKeyHasher.Hash(key)[7..], body);
        Assert.DoesNotContain("sha256:", body);
        Assert.Contains(await ListAsync(), k => k.GetProperty("source").GetString() == "config" && k.GetProperty("role").GetString() == "admin");

        // Revoked: refused at once on this node, listed with its revocation, revoking again changes nothing.
        var clock = Stopwatch.StartNew();
        Assert.Equal(HttpStatusCode.NoContent, (await host.Client(HostFixture.KeyAdmin).DeleteAsync($"/v1/keys/{id}")).StatusCode);
        var refused = await runner.GetAsync("/v1/instances/key-i1");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal("unauthorized", (await refused.Json()).GetProperty("code").GetString());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"refused after {clock.Elapsed}");
        var revokedAt = (await ListAsync()).Single(k => k.GetProperty("id").GetString() == id).GetProperty("revokedAt").GetString();
        Assert.NotNull(revokedAt);
        Assert.Equal(HttpStatusCode.NoContent, (await host.Client(HostFixture.KeyAdmin).DeleteAsync($"/v1/keys/{id}")).StatusCode);
        Assert.Equal(revokedAt, (await ListAsync()).Single(k => k.GetProperty("id").GetString() == id).GetProperty("revokedAt").GetString());
    }

    [Fact]
    public async Task An_issued_editor_key_writes_prompts_in_its_own_scope_only()
    {
        var (_, key) = await IssueAsync("""{"scope":{"userId":"u8"},"role":"editor"}""");
        var editor = host.Client(key);
        Assert.Equal(HttpStatusCode.OK, (await editor.PutJson("/v1/prompts/k8", Prompt)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await host.Client(HostFixture.KeyU1).GetAsync("/v1/prompts/k8")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await editor.PostJson("/v1/keys", """{"scope":{"userId":"u8"},"role":"admin"}""")).StatusCode);
    }

    [Fact]
    public async Task An_issued_admin_key_manages_keys_and_reads_the_operations_endpoints()
    {
        var (adminId, adminKey) = await IssueAsync("""{"scope":{"userId":"ops"},"role":"admin"}""");
        var admin = host.Client(adminKey);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/metrics")).StatusCode);
        var issued = await (await admin.PostJson("/v1/keys", """{"scope":{"userId":"u9"},"role":"runner"}""")).Json();
        var listed = await ListAsync();
        Assert.Equal(adminId, listed.Single(k => k.GetProperty("id").GetString() == issued.GetProperty("id").GetString())
            .GetProperty("createdBy").GetString());
    }

    private async Task<List<JsonElement>> ListAsync() =>
        (await (await host.Client(HostFixture.KeyAdmin).GetAsync("/v1/keys")).Json()).GetProperty("keys").EnumerateArray().ToList();

    private static async Task<JsonElement> WaitForAsync(Func<Task<JsonElement?>> probe)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (await probe() is { } found)
                return found;
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), "not seen within 10 s");
            await Task.Delay(50);
        }
    }
}
