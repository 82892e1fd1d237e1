namespace PromptActors.Models;

/// <summary>Turns token usage into money with a model's price table; 6 decimal places, as ai_tasks.cost stores it.</summary>
public static class CostCalculator
{
    private const decimal Million = 1_000_000m;

    public static decimal Compute(TokenUsage usage, ModelPricing pricing)
    {
        var cached = Math.Min(usage.CachedInputTokens, usage.InputTokens);
        var uncached = usage.InputTokens - cached;
        var cost = uncached * pricing.InputPerMillion / Million
                 + cached * pricing.CachedInputPerMillion / Million
                 + usage.OutputTokens * pricing.OutputPerMillion / Million;
        return Math.Round(cost, 6, MidpointRounding.AwayFromZero);
    }
}
