using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using PromptActors.Engine;

namespace PromptActors.Host.Tests;

public sealed class ExampleLoaderTests : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "promptactors-examples-" + Guid.NewGuid().ToString("N"));

    public Task InitializeAsync()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "prompts"));
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Broken_example_files_are_skipped_and_the_host_starts_with_the_good_ones()
    {
        var prompts = Path.Combine(_dir, "prompts");
        await File.WriteAllTextAsync(Path.Combine(prompts, "a-broken.json"), """{"name": "cut off""");
        await File.WriteAllTextAsync(Path.Combine(prompts, "b-null.json"), "null");
        await File.WriteAllTextAsync(Path.Combine(prompts, "c-invalid.json"), """{"name":"No messages","messages":[]}""");
        await File.WriteAllTextAsync(Path.Combine(prompts, "c-no-messages.json"), """{"name":"Nothing to say"}""");
        await File.WriteAllTextAsync(Path.Combine(prompts, "c-wrong-type.json"), """{"name":5,"messages":"hi"}""");
        await File.WriteAllTextAsync(Path.Combine(prompts, "d-good.json"),
            """{"name":"Good","messages":[{"role":"system","content":"Hello {{user_name}}"}]}""");
        await using var app = HostApp.Build(["--urls", "http://127.0.0.1:0"], builder => builder.Configuration.AddInMemoryCollection(
            new Dictionary<string, string?>
            {
                ["PromptActors:Storage:Provider"] = "sqlite",
                ["PromptActors:Storage:ConnectionString"] = $"Data Source={Path.Combine(_dir, "host.db")}",
                ["PromptActors:Auth:Enabled"] = "false",
                ["PromptActors:Examples:Path"] = prompts,
                ["Logging:LogLevel:Default"] = "Warning",
            }));

        await app.StartAsync();
        var engine = app.Services.GetRequiredService<IPromptExecutionEngine>();

        Assert.Equal("Good", (await engine.GetPromptAsync("d-good", null))?.Name);
        Assert.Null(await engine.GetPromptAsync("a-broken", null));
        Assert.Null(await engine.GetPromptAsync("b-null", null));
        Assert.Null(await engine.GetPromptAsync("c-invalid", null));
        Assert.Null(await engine.GetPromptAsync("c-no-messages", null));
        Assert.Null(await engine.GetPromptAsync("c-wrong-type", null));
        await app.StopAsync();
    }

    public Task DisposeAsync()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
        return Task.CompletedTask;
    }
}
