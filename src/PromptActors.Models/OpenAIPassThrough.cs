using System.Diagnostics.CodeAnalysis;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using OpenAI.Chat;

namespace PromptActors.Models;

/// <summary>
/// A prompt's <c>additionalProperties</c> on an OpenAI-compatible request body: Microsoft.Extensions.AI's adapter sends only
/// the properties it knows, so the rest go into the request through <see cref="ChatOptions.RawRepresentationFactory"/>
/// (the OpenAI client's JSON patch of its options). <c>strict</c>, which the adapter reads itself, is not repeated.
/// </summary>
internal static class OpenAIPassThrough
{
    public static void Apply(ChatOptions options)
    {
        if (options.AdditionalProperties is not { Count: > 0 } properties)
            return;
        List<KeyValuePair<string, JsonElement>>? extra = null;
        foreach (var (key, value) in properties)
        {
            if (key != ChatOptionsMapper.StrictKey && value is JsonElement json)
                (extra ??= []).Add(new(key, json));
        }
        if (extra is null)
            return;
        var previous = options.RawRepresentationFactory;
        options.RawRepresentationFactory = client =>
        {
            var raw = previous?.Invoke(client) as ChatCompletionOptions ?? new ChatCompletionOptions();
            Patch(raw, extra);
            return raw;
        };
    }

    [SuppressMessage("Usage", "SCME0001", Justification = "JsonPatch is how the OpenAI client takes fields it has no property for.")]
    private static void Patch(ChatCompletionOptions raw, List<KeyValuePair<string, JsonElement>> extra)
    {
#pragma warning disable SCME0001
        foreach (var (key, value) in extra)
            raw.Patch.Set(Encoding.UTF8.GetBytes("$." + key), BinaryData.FromString(value.GetRawText()));
#pragma warning restore SCME0001
    }
}
