using Microsoft.Extensions.AI;

namespace PromptActors.Models;

/// <summary>
/// Token usage of a model call: what the provider reported (its <see cref="UsageContent"/>), or, when it reported
/// none, an estimate counted with the model's <see cref="ITokenCounter"/> (about four characters a token without one) and
/// flagged <see cref="TokenUsage.Estimated"/>.
/// </summary>
public static class UsageEstimator
{
    /// <summary>
    /// Set in <see cref="UsageDetails.AdditionalCounts"/> by a client whose reported counts include estimates (of parts its
    /// tokenizer cannot count): the usage is then flagged <see cref="TokenUsage.Estimated"/>.
    /// </summary>
    public const string EstimatedCount = "promptactors.estimated_input_tokens";

    /// <summary>Tokens assumed for an image (a 1024×1024 image at OpenAI's high detail: 85 + 4 × 170).</summary>
    public const int ImageTokens = 765;

    public static TokenUsage FromDetails(UsageDetails details) =>
        new(details.InputTokenCount ?? 0, details.OutputTokenCount ?? 0, details.CachedInputTokenCount ?? 0,
            Estimated: details.AdditionalCounts?.TryGetValue(EstimatedCount, out var estimated) == true && estimated > 0);

    /// <summary>
    /// Tokens of the contents of <paramref name="message"/> that a text tokenizer cannot count (images, files): an estimate
    /// (<see cref="ImageTokens"/> an image, a token per four bytes of a file), never zero for a part that is there.
    /// </summary>
    public static int EstimateParts(ChatMessage message)
    {
        var count = 0;
        foreach (var content in message.Contents)
            count += PartTokens(content);
        return count;
    }

    private static int PartTokens(AIContent content) => content switch
    {
        DataContent d => d.HasTopLevelMediaType("image") ? ImageTokens : BytesTokens(d.Data.Length),
        UriContent => ImageTokens,
        Attachments.AttachmentReference { Part: var p } => p.Type == Attachments.PartTypes.Image ? ImageTokens : BytesTokens(p.Size ?? 0),
        _ => 0,
    };

    private static int BytesTokens(long bytes) => (int)Math.Clamp((bytes + 3) / 4, 1, int.MaxValue);

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

    /// <summary>Counts the input messages' text and the output text with <paramref name="tokens"/> (or approximately).</summary>
    public static TokenUsage Estimate(IEnumerable<ChatMessage> input, string output, ITokenCounter? tokens = null)
    {
        tokens ??= ApproximateTokens.Instance;
        long inputTokens = 0;
        foreach (var message in input)
            inputTokens += CountMessage(message, tokens);
        return new TokenUsage(inputTokens, Count(tokens, output), 0, Estimated: true);
    }

    /// <summary>
    /// Tokens of one input message: its text, and the tool calls and results it carries (their names, arguments and results
    /// as the model reads them; <see cref="ChatMessage.Text"/> has only the text).
    /// </summary>
    public static int CountMessage(ChatMessage message, ITokenCounter? tokens = null)
    {
        tokens ??= ApproximateTokens.Instance;
        var count = 0;
        foreach (var content in message.Contents)
        {
            count += content switch
            {
                TextContent t => Count(tokens, t.Text),
                FunctionCallContent call => Count(tokens, call.Name) + Count(tokens, call.Arguments is { Count: > 0 } args
                    ? System.Text.Json.JsonSerializer.Serialize(args, AIJsonUtilities.DefaultOptions)
                    : null),
                FunctionResultContent result => Count(tokens, result.Result?.ToString()),
                _ => PartTokens(content),
            };
        }
        return count;
    }

    /// <summary>The reported usage when there is one, the estimate otherwise.</summary>
    public static TokenUsage Resolve(TokenUsage? reported, IEnumerable<ChatMessage> input, string output, ITokenCounter? tokens = null) =>
        reported ?? Estimate(input, output, tokens);

    /// <summary>Usage of a finished stream: reported by the provider, or estimated from the input and the streamed text.</summary>
    public static TokenUsage ForStream(IReadOnlyCollection<ChatResponseUpdate> updates, IEnumerable<ChatMessage> input,
        ITokenCounter? tokens = null) =>
        Reported(updates) ?? Estimate(input, string.Concat(updates.Select(u => u.Text)), tokens);

    private static int Count(ITokenCounter tokens, string? text) => string.IsNullOrEmpty(text) ? 0 : tokens.Count(text);

    /// <summary>About four characters a token (what English text averages in GPT-style tokenizers).</summary>
    private sealed class ApproximateTokens : ITokenCounter
    {
        public static readonly ApproximateTokens Instance = new();

        public int Count(string text) => (text.Length + 3) / 4;
    }
}
