using System.Text.Json;
using PromptActors.Engine;
using PromptActors.Host.Api;

namespace PromptActors.Host;

/// <summary>
/// Saves the example prompts of <c>examples/prompts</c> that the store does not have yet (first start). A file that is
/// not a valid prompt is skipped with a warning; it never stops the host.
/// </summary>
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
            PromptBody? body;
            try
            {
                body = JsonSerializer.Deserialize<PromptBody>(await File.ReadAllTextAsync(file, cancellationToken), JsonSerializerOptions.Web);
            }
            catch (JsonException e)
            {
                body = null;
                log.LogWarning("Example prompt {File} is not valid JSON, skipped: {Error}", file, e.Message);
            }
            if (body is null)
                continue;
            var id = body.Id ?? Path.GetFileNameWithoutExtension(file);
            if (await engine.GetPromptAsync(id, null, cancellationToken) is not null)
                continue;
            var errors = new List<string>();
            var definition = body.ToDefinition(id, errors);
            if (errors.Count == 0)
                errors.AddRange(Prompts.PromptValidation.Validate(definition));
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
