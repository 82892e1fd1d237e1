using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using Microsoft.Playwright;

namespace PromptActors.Host.Tests;

/// <summary>
/// The host plus a second loopback origin serving <c>examples/browser/</c>, listed in the host's CORS origins, and the
/// machine's Chromium (Debian's <c>chromium</c>; never downloaded) driven by Playwright.
/// </summary>
public sealed class BrowserFixture : HostFixture
{
    private WebApplication? _site;
    private MachineChromium? _chromium;

    public string PageOrigin { get; private set; } = "";
    public IBrowser Browser => _chromium!.Browser;

    private static string BrowserExample([CallerFilePath] string here = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", "..", "examples", "browser"));

    protected override async Task<IReadOnlyDictionary<string, string?>> ExtraSettingsAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _site = builder.Build();
        _site.UseStaticFiles(new StaticFileOptions { FileProvider = new PhysicalFileProvider(BrowserExample()) });
        await _site.StartAsync();
        PageOrigin = _site.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/');
        return new Dictionary<string, string?> { ["PromptActors:Http:Cors:Origins:0"] = PageOrigin };
    }

    public override async Task InitializeAsync()
    {
        _chromium = await MachineChromium.LaunchAsync(); // fails loudly before the host starts when Chromium is missing
        await base.InitializeAsync();
    }

    public override async Task DisposeAsync()
    {
        if (_chromium is not null)
            await _chromium.DisposeAsync();
        if (_site is not null)
            await _site.DisposeAsync();
        await base.DisposeAsync();
    }
}

/// <summary>A page on another origin starts an instance and renders the streamed reply, with fetch and with EventSource.</summary>
public sealed class BrowserTests(BrowserFixture fixture) : IClassFixture<BrowserFixture>
{
    [Theory]
    [InlineData("fetch")]
    [InlineData("eventsource")]
    public async Task A_page_on_another_origin_streams_a_reply_and_shows_the_stored_text(string mode)
    {
        var http = fixture.Client();
        await http.PutJson("/v1/prompts/browser-p",
            """{"name":"B","messages":[{"role":"system","content":"Echo."},{"role":"user","content":"the browser asked this"}],"settings":{"model":"local"}}""");
        var page = await fixture.Browser.NewPageAsync();
        var api = fixture.BaseAddress.ToString().TrimEnd('/');
        await page.GotoAsync($"{fixture.PageOrigin}/index.html?api={Uri.EscapeDataString(api)}&key={HostFixture.KeyU1}&prompt=browser-p&mode={mode}");

        await page.WaitForFunctionAsync("() => document.getElementById('status').textContent !== 'starting' && document.getElementById('status').textContent !== 'streaming'",
            null, new PageWaitForFunctionOptions { Timeout = 30_000 });
        Assert.Equal("completed", await page.InnerTextAsync("#status"));
        var shown = await page.InnerTextAsync("#reply"); // the chunks as they streamed
        var final = await page.InnerTextAsync("#final"); // the completed event's text
        var instanceId = await page.InnerTextAsync("#instance");

        var view = await (await http.GetAsync($"/v1/instances/{instanceId}")).Json();
        var stored = view.GetProperty("conversation").GetProperty("messages").EnumerateArray()
            .Last(m => m.GetProperty("role").GetString() == "assistant").GetProperty("content").GetString();
        Assert.False(string.IsNullOrEmpty(stored));
        Assert.Equal(stored, shown);
        Assert.Equal(stored, final);
        await page.CloseAsync();
    }
}
