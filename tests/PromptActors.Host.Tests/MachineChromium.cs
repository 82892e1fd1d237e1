using Microsoft.Playwright;

namespace PromptActors.Host.Tests;

/// <summary>
/// Debian's Chromium (<c>apt-get install -y chromium</c>; never downloaded), headless, driven by Playwright for .NET. A test
/// that needs it fails loudly when it is missing.
/// </summary>
public sealed class MachineChromium : IAsyncDisposable
{
    public const string ExecutablePath = "/usr/bin/chromium";

    private MachineChromium(IPlaywright playwright, IBrowser browser) => (Playwright, Browser) = (playwright, browser);

    public IPlaywright Playwright { get; }
    public IBrowser Browser { get; }

    public static async Task<MachineChromium> LaunchAsync()
    {
        if (!File.Exists(ExecutablePath))
            throw new InvalidOperationException($"{ExecutablePath} is missing: the browser tests need Debian's chromium (apt-get install -y chromium)");
        var playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ExecutablePath, Headless = true, Args = ["--no-sandbox"],
        });
        return new MachineChromium(playwright, browser);
    }

    public async ValueTask DisposeAsync()
    {
        await Browser.CloseAsync();
        Playwright.Dispose();
    }
}
