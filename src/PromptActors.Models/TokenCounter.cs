using Microsoft.ML.Tokenizers;

namespace PromptActors.Models;

/// <summary>Counts tokens with the o200k tokenizer (GPT-4o family); used by the local model and as the estimate
/// for providers that report no usage.</summary>
public sealed class TokenCounter : ITokenCounter
{
    /// <summary>The counter the models of this package are registered with.</summary>
    public static readonly TokenCounter O200k = new();

    private TokenCounter()
    {
    }

    int ITokenCounter.Count(string text) => Count(text);

    private static readonly Lazy<Tokenizer> Tokenizer = new(() => TiktokenTokenizer.CreateForModel("gpt-4o"));

    public static int Count(string text) => string.IsNullOrEmpty(text) ? 0 : Tokenizer.Value.CountTokens(text);
}
