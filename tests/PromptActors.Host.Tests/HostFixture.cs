using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using PromptActors.Host.Auth;

namespace PromptActors.Host.Tests;

/// <summary>The real host (Kestrel on a free loopback port, SQLite temp file, two API keys) for one test class.</summary>
public class HostFixture : IAsyncLifetime
{
    public const string KeyU1 = "test-key-user-one";
    public const string KeyU2 = "test-key-user-two";
    /// <summary>Same scope as <see cref="KeyU1"/>, role runner / admin.</summary>
    public const string KeyRunner = "test-key-user-one-runner";
    public const string KeyAdmin = "test-key-user-one-admin";
    /// <summary>The same user as <see cref="KeyU1"/>, in another org (o3) and no project: another tenant.</summary>
    public const string KeyU1OtherOrg = "test-key-user-one-other-org";
    public const string AllowedOrigin = "http://127.0.0.1:5999";

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "promptactors-host-" + Guid.NewGuid().ToString("N"));
    private WebApplication? _app;

    public Uri BaseAddress { get; private set; } = null!;
    public string DatabasePath => Path.Combine(_dir, "host.db");

    public static string ExamplesPath([CallerFilePath] string here = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", "..", "examples", "prompts"));

    /// <summary>Settings a derived fixture adds (or overrides) before the host starts.</summary>
    protected virtual Task<IReadOnlyDictionary<string, string?>> ExtraSettingsAsync() =>
        Task.FromResult<IReadOnlyDictionary<string, string?>>(new Dictionary<string, string?>());

    /// <summary>What a derived fixture adds to the host's builder (a log capture, say) before the host is built.</summary>
    protected virtual void Customize(WebApplicationBuilder builder)
    {
    }

    public virtual async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        var extra = await ExtraSettingsAsync();
        _app = HostApp.Build(["--urls", "http://127.0.0.1:0"], builder =>
        {
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["PromptActors:Storage:Provider"] = "sqlite",
            ["PromptActors:Storage:ConnectionString"] = $"Data Source={DatabasePath}",
            ["PromptActors:Auth:Enabled"] = "true",
            ["PromptActors:Auth:ApiKeys:0:KeyHash"] = ApiKeyHasher.Hash(KeyU1),
            ["PromptActors:Auth:ApiKeys:0:UserId"] = "u1",
            ["PromptActors:Auth:ApiKeys:0:OrgId"] = "o1",
            ["PromptActors:Auth:ApiKeys:0:ProjectId"] = "p1",
            ["PromptActors:Auth:ApiKeys:1:KeyHash"] = ApiKeyHasher.Hash(KeyU2),
            ["PromptActors:Auth:ApiKeys:1:UserId"] = "u2",
            ["PromptActors:Auth:ApiKeys:1:OrgId"] = "o2",
            ["PromptActors:Auth:ApiKeys:2:KeyHash"] = ApiKeyHasher.Hash(KeyRunner),
            ["PromptActors:Auth:ApiKeys:2:UserId"] = "u1",
            ["PromptActors:Auth:ApiKeys:2:OrgId"] = "o1",
            ["PromptActors:Auth:ApiKeys:2:ProjectId"] = "p1",
            ["PromptActors:Auth:ApiKeys:2:Role"] = "runner",
            ["PromptActors:Auth:ApiKeys:3:KeyHash"] = ApiKeyHasher.Hash(KeyAdmin),
            ["PromptActors:Auth:ApiKeys:3:UserId"] = "u1",
            ["PromptActors:Auth:ApiKeys:3:OrgId"] = "o1",
            ["PromptActors:Auth:ApiKeys:3:ProjectId"] = "p1",
            ["PromptActors:Auth:ApiKeys:3:Role"] = "admin",
            ["PromptActors:Http:Cors:Origins:0"] = AllowedOrigin,
            ["PromptActors:Http:MaxRequestBodyBytes"] = "65536",
            ["PromptActors:Instances:MaxInputBytes"] = "1024",
            ["PromptActors:Attachments:MaxPartBytes"] = "4096",
            ["PromptActors:Attachments:MaxMessageBytes"] = "8192",
            ["PromptActors:Attachments:MaxParts"] = "4",
            ["PromptActors:Examples:Path"] = ExamplesPath(),
            ["PromptActors:Auth:ApiKeys:4:KeyHash"] = ApiKeyHasher.Hash(KeyU1OtherOrg),
            ["PromptActors:Auth:ApiKeys:4:UserId"] = "u1",
            ["PromptActors:Auth:ApiKeys:4:OrgId"] = "o3",
            ["Logging:LogLevel:Default"] = "Warning",
            }).AddInMemoryCollection(extra);
            Customize(builder);
        });
        await _app.StartAsync();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseAddress = new Uri(address);
    }

    public HttpClient Client(string? key = KeyU1)
    {
        var client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        if (key is not null)
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    public virtual async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

public static class HttpJson
{
    public static async Task<JsonElement> Json(this HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    public static Task<HttpResponseMessage> PostJson(this HttpClient client, string url, string json) =>
        client.PostAsync(url, new StringContent(json, System.Text.Encoding.UTF8, "application/json"));

    public static Task<HttpResponseMessage> PutJson(this HttpClient client, string url, string json) =>
        client.PutAsync(url, new StringContent(json, System.Text.Encoding.UTF8, "application/json"));

    public static Task<HttpResponseMessage> PatchJson(this HttpClient client, string url, string json) =>
        client.PatchAsync(url, new StringContent(json, System.Text.Encoding.UTF8, "application/json"));

    public static Task<HttpResponseMessage> PostObject(this HttpClient client, string url, object body) =>
        client.PostAsJsonAsync(url, body);
}
