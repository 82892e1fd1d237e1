namespace PromptActors.Models;

/// <summary>Token counts of one model call.</summary>
public sealed record TokenUsage(long InputTokens, long OutputTokens, long CachedInputTokens = 0, bool Estimated = false)
{
    public static readonly TokenUsage None = new(0, 0);
    public long TotalTokens => InputTokens + OutputTokens;

    /// <summary>The usage of this call and <paramref name="other"/> together (estimated when either was).</summary>
    public TokenUsage Plus(TokenUsage other) => new(InputTokens + other.InputTokens, OutputTokens + other.OutputTokens,
        CachedInputTokens + other.CachedInputTokens, Estimated || other.Estimated);
}
