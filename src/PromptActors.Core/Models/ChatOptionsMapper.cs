using Microsoft.Extensions.AI;
using PromptActors.Prompts;

namespace PromptActors.Models;

/// <summary>
/// Maps a prompt's settings onto <see cref="ChatOptions"/>: temperature, top_p, max tokens, stop sequences, top_k, seed
/// and the frequency and presence penalties (a provider without one of them ignores it); unset
/// settings stay null so the provider's defaults apply. Through the OpenAI-compatible pipeline these become
/// <c>temperature</c>, <c>top_p</c>, <c>max_completion_tokens</c> and <c>stop</c>, and the OpenAI .NET client adds
/// <c>stream_options.include_usage = true</c> to every streaming request by itself (asserted against the fake server
/// in PromptActors.Models.Tests). <see cref="ChatOptions.ModelId"/> carries the registry id; the registry's pipeline
/// replaces it with the provider's model name.
/// </summary>
public static class ChatOptionsMapper
{
    public static ChatOptions ToChatOptions(PromptSettings settings, string modelId) => new()
    {
        ModelId = modelId,
        Temperature = settings.Temperature is { } t ? (float)t : null,
        TopP = settings.TopP is { } p ? (float)p : null,
        MaxOutputTokens = settings.MaxTokens,
        StopSequences = settings.Stop is { Count: > 0 } stop ? stop.ToList() : null,
        TopK = settings.TopK,
        Seed = settings.Seed,
        FrequencyPenalty = settings.FrequencyPenalty is { } f ? (float)f : null,
        PresencePenalty = settings.PresencePenalty is { } pp ? (float)pp : null,
    };

    public static ChatRole ToChatRole(MessageRole role) => role switch
    {
        MessageRole.System => ChatRole.System,
        MessageRole.Assistant => ChatRole.Assistant,
        _ => ChatRole.User,
    };
}
