namespace PromptActors.Models;

/// <summary>Token counts of one model call.</summary>
public sealed record TokenUsage(long InputTokens, long OutputTokens, long CachedInputTokens = 0, bool Estimated = false)
{
    public static readonly TokenUsage None = new(0, 0);
    public long TotalTokens => InputTokens + OutputTokens;
}
