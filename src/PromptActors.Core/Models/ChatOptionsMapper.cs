using Microsoft.Extensions.AI;
using PromptActors.Prompts;

namespace PromptActors.Models;

/// <summary>Maps a prompt's settings onto <see cref="ChatOptions"/>.</summary>
public static class ChatOptionsMapper
{
    public static ChatOptions ToChatOptions(PromptSettings settings, string modelId) => new()
    {
        ModelId = modelId,
        Temperature = settings.Temperature is { } t ? (float)t : null,
        TopP = settings.TopP is { } p ? (float)p : null,
        MaxOutputTokens = settings.MaxTokens,
        StopSequences = settings.Stop is { Count: > 0 } stop ? stop.ToList() : null,
    };

    public static ChatRole ToChatRole(MessageRole role) => role switch
    {
        MessageRole.System => ChatRole.System,
        MessageRole.Assistant => ChatRole.Assistant,
        _ => ChatRole.User,
    };
}
