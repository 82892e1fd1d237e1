using Microsoft.Extensions.AI;

namespace PromptActors.Models;

/// <summary>
/// Token usage of a model call: what the provider reported (its <see cref="UsageContent"/>), or, when it reported
/// none, an estimate counted with <see cref="TokenCounter"/> (o200k) and flagged <see cref="TokenUsage.Estimated"/>.
/// </summary>
public static class UsageEstimator
{
    public static TokenUsage FromDetails(UsageDetails details) =>
        new(details.InputTokenCount ?? 0, details.OutputTokenCount ?? 0, details.CachedInputTokenCount ?? 0);

    /// <summary>The usage reported in these updates (the last <see cref="UsageContent"/>), or null when there is none.</summary>
    public static TokenUsage? Reported(IEnumerable<ChatResponseUpdate> updates)
    {
        TokenUsage? usage = null;
        foreach (var update in updates)
        {
            foreach (var content in update.Contents)
            {
                if (content is UsageContent u)
                    usage = FromDetails(u.Details);
            }
        }
        return usage;
    }

    /// <summary>Counts the input messages' text and the output text with the o200k tokenizer.</summary>
    public static TokenUsage Estimate(IEnumerable<ChatMessage> input, string output)
    {
        long inputTokens = 0;
        foreach (var message in input)
            inputTokens += TokenCounter.Count(message.Text);
        return new TokenUsage(inputTokens, TokenCounter.Count(output), 0, Estimated: true);
    }

    /// <summary>The reported usage when there is one, the estimate otherwise.</summary>
    public static TokenUsage Resolve(TokenUsage? reported, IEnumerable<ChatMessage> input, string output) =>
        reported ?? Estimate(input, output);

    /// <summary>Usage of a finished stream: reported by the provider, or estimated from the input and the streamed text.</summary>
    public static TokenUsage ForStream(IReadOnlyCollection<ChatResponseUpdate> updates, IEnumerable<ChatMessage> input) =>
        Reported(updates) ?? Estimate(input, string.Concat(updates.Select(u => u.Text)));
}
