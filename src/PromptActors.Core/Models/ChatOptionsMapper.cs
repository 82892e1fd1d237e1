using Microsoft.Extensions.AI;
using PromptActors.Prompts;

namespace PromptActors.Models;

/// <summary>
/// Maps a prompt's settings onto <see cref="ChatOptions"/>: temperature, top_p, max tokens, stop sequences, top_k, seed,
/// the frequency and presence penalties, the response format (JSON, or a JSON schema, strict when asked), the reasoning
/// effort and the pass-through properties (a provider without one of them ignores it); unset
/// settings stay null so the provider's defaults apply. Through the OpenAI-compatible pipeline these become
/// <c>temperature</c>, <c>top_p</c>, <c>max_completion_tokens</c> and <c>stop</c>, and the OpenAI .NET client adds
/// <c>stream_options.include_usage = true</c> to every streaming request by itself (asserted against the fake server
/// in PromptActors.Models.Tests). <see cref="ChatOptions.ModelId"/> carries the registry id; the registry's pipeline
/// replaces it with the provider's model name.
/// </summary>
public static class ChatOptionsMapper
{
    /// <summary>The key under which Microsoft.Extensions.AI's OpenAI adapter reads a strict JSON schema.</summary>
    public const string StrictKey = "strict";

    /// <summary>
    /// The options of one model call. The tools <paramref name="settings"/> names are offered as declarations only (their
    /// calls come back to the instance, which journals and runs them; nothing invokes a tool inside the model pipeline).
    /// </summary>
    public static ChatOptions ToChatOptions(PromptSettings settings, string modelId, Tools.IToolRegistry? tools = null) => new()
    {
        ModelId = modelId,
        Tools = Declarations(settings, tools),
        ToolMode = !Prompts.SettingsValidation.OffersTools(settings) ? null : settings.ToolChoice switch
        {
            null or "auto" => ChatToolMode.Auto,
            "none" => ChatToolMode.None,
            "required" => ChatToolMode.RequireAny,
            var name => ChatToolMode.RequireSpecific(name),
        },
        AllowMultipleToolCalls = Prompts.SettingsValidation.OffersTools(settings) ? settings.ParallelToolCalls : null,
        ResponseFormat = settings.ResponseFormat switch
        {
            null => null,
            { Type: ResponseFormat.JsonSchemaType, Schema: { } schema } format =>
                ChatResponseFormat.ForJsonSchema(Parse(schema), format.Name, format.Description),
            { Type: ResponseFormat.JsonType } => ChatResponseFormat.Json,
            _ => ChatResponseFormat.Text,
        },
        Reasoning = settings.ReasoningEffort is { } effort ? new ReasoningOptions { Effort = ToEffort(effort) } : null,
        AdditionalProperties = Additional(settings),
        Temperature = settings.Temperature is { } t ? (float)t : null,
        TopP = settings.TopP is { } p ? (float)p : null,
        MaxOutputTokens = settings.MaxTokens,
        StopSequences = settings.Stop is { Count: > 0 } stop ? stop.ToList() : null,
        TopK = settings.TopK,
        Seed = settings.Seed,
        FrequencyPenalty = settings.FrequencyPenalty is { } f ? (float)f : null,
        PresencePenalty = settings.PresencePenalty is { } pp ? (float)pp : null,
    };

    private static IList<AITool>? Declarations(PromptSettings settings, Tools.IToolRegistry? tools)
    {
        if (!Prompts.SettingsValidation.OffersTools(settings))
            return null;
        var list = new List<AITool>();
        foreach (var name in settings.Tools ?? [])
        {
            if (tools is not null && tools.TryGet(name, out var tool))
                list.Add(tool.Function.AsDeclarationOnly());
        }
        foreach (var client in settings.ClientTools ?? [])
            list.Add(AIFunctionFactory.CreateDeclaration(client.Name, client.Description,
                Parse(client.Parameters ?? "{\"type\":\"object\",\"properties\":{}}")));
        return list;
    }

    private static ReasoningEffort ToEffort(string effort) => effort switch
    {
        "none" => ReasoningEffort.None,
        "low" => ReasoningEffort.Low,
        "high" => ReasoningEffort.High,
        "extra_high" => ReasoningEffort.ExtraHigh,
        _ => ReasoningEffort.Medium,
    };

    /// <summary>The prompt's pass-through properties (as <see cref="System.Text.Json.JsonElement"/>s), and <c>strict</c> for a strict schema.</summary>
    private static AdditionalPropertiesDictionary? Additional(PromptSettings settings)
    {
        var strict = settings.ResponseFormat is { Type: ResponseFormat.JsonSchemaType, Strict: true };
        if (settings.AdditionalProperties is not { Count: > 0 } extra && !strict)
            return null;
        var properties = new AdditionalPropertiesDictionary();
        if (settings.AdditionalProperties is { } given)
        {
            foreach (var (key, value) in given)
                properties[key] = Parse(value);
        }
        if (strict)
            properties[StrictKey] = true;
        return properties;
    }

    private static System.Text.Json.JsonElement Parse(string json)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(json);
        return doc.RootElement.Clone();
    }

    public static ChatRole ToChatRole(MessageRole role) => role switch
    {
        MessageRole.System => ChatRole.System,
        MessageRole.Assistant => ChatRole.Assistant,
        MessageRole.Tool => ChatRole.Tool,
        _ => ChatRole.User,
    };
}
