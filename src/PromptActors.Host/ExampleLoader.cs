using System.Text.Json;
using PromptActors.Engine;
using PromptActors.Host.Api;

namespace PromptActors.Host;

/// <summary>Saves the example prompts of <c>examples/prompts</c> that the store does not have yet (first start).</summary>
public sealed class ExampleLoader(IPromptExecutionEngine engine, IConfiguration configuration, ILogger<ExampleLoader> log) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!configuration.GetValue("PromptActors:Examples:Load", true))
            return;
        var dir = configuration["PromptActors:Examples:Path"] ?? Path.Combine(AppContext.BaseDirectory, "examples", "prompts");
        if (!Directory.Exists(dir))
            return;
        foreach (var file in Directory.GetFiles(dir, "*.json").Order(StringComparer.Ordinal))
        {
            var body = JsonSerializer.Deserialize<PromptBody>(await File.ReadAllTextAsync(file, cancellationToken), JsonSerializerOptions.Web)!;
            var id = body.Id ?? Path.GetFileNameWithoutExtension(file);
            if (await engine.GetPromptAsync(id, null, cancellationToken) is not null)
                continue;
            var errors = new List<string>();
            var definition = body.ToDefinition(id, errors);
            if (errors.Count > 0)
            {
                log.LogWarning("Example prompt {File} is not valid: {Errors}", file, string.Join("; ", errors));
                continue;
            }
            var saved = await engine.SavePromptAsync(definition, cancellationToken);
            log.LogInformation("Loaded example prompt {PromptId} v{Version}", saved.Id, saved.Version);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
