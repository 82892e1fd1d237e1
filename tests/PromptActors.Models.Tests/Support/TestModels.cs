using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;

namespace PromptActors.Models.Tests.Support;

/// <summary>What a consumer saw of one streaming call.</summary>
public sealed record StreamResult(IReadOnlyList<ChatResponseUpdate> Updates, Exception? Error)
{
    public IReadOnlyList<string> Texts => Updates.Select(u => u.Text).Where(t => t.Length > 0).ToList();
    public string Text => string.Concat(Texts);
}

public static class TestModels
{
    public static readonly IReadOnlyList<ChatMessage> Chat =
    [
        new(ChatRole.System, "You are terse."),
        new(ChatRole.User, "Say hello to the world"),
    ];

    /// <summary>An <c>openai</c> entry pointing at the fake server, with quick retries.</summary>
    public static ModelOptions OpenAI(FakeOpenAIServer server, Action<ModelOptions>? configure = null)
    {
        var options = new ModelOptions
        {
            Provider = ModelProviders.OpenAI,
            Endpoint = server.Endpoint,
            Model = "gpt-4o-mini",
            RetryDelay = TimeSpan.FromMilliseconds(10),
            IdleTimeout = TimeSpan.FromSeconds(10),
        };
        configure?.Invoke(options);
        return options;
    }

    /// <summary>Builds a registry with one <c>gpt</c> entry through the real factory and returns that entry.</summary>
    public static ModelEntry Gpt(FakeOpenAIServer server, Action<ModelOptions>? configure = null, ILoggerFactory? logs = null,
        Func<string, string?>? environment = null, TimeProvider? time = null)
    {
        var registry = ModelRegistryFactory.Create(new Dictionary<string, ModelOptions> { ["gpt"] = OpenAI(server, configure) },
            time ?? TimeProvider.System, logs, environment);
        Assert.True(registry.TryGet("gpt", out var entry));
        return entry;
    }

    public static async Task<StreamResult> CollectAsync(IChatClient client, ChatOptions? options = null,
        CancellationToken cancellationToken = default, IReadOnlyList<ChatMessage>? messages = null)
    {
        var updates = new List<ChatResponseUpdate>();
        try
        {
            await foreach (var update in client.GetStreamingResponseAsync(messages ?? Chat, options, cancellationToken))
                updates.Add(update);
            return new StreamResult(updates, null);
        }
        catch (Exception ex)
        {
            return new StreamResult(updates, ex);
        }
    }

    /// <summary>Bounds a wait in a test so a bug fails the test instead of hanging it.</summary>
    public static Task<T> Within<T>(this Task<T> task, double seconds = 15) => task.WaitAsync(TimeSpan.FromSeconds(seconds));

    public static Task Within(this Task task, double seconds = 15) => task.WaitAsync(TimeSpan.FromSeconds(seconds));
}
