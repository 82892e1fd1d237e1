using System.Text.Json;
using System.Text.Json.Serialization;
using PromptActors.Prompts;

namespace PromptActors.Host.Api;

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record PromptSettingsBody(string? Model, double? Temperature, double? TopP, int? MaxTokens, IReadOnlyList<string>? Stop,
    int? TopK = null, long? Seed = null, double? FrequencyPenalty = null, double? PresencePenalty = null,
    JsonElement? ResponseFormat = null, string? ReasoningEffort = null, Dictionary<string, JsonElement>? AdditionalProperties = null,
    IReadOnlyList<string>? Tools = null, string? ToolChoice = null, bool? ParallelToolCalls = null, int? MaxIterations = null,
    IReadOnlyList<ClientToolBody>? ClientTools = null, int? RepairAttempts = null)
{
    public PromptSettings ToSettings(List<string> errors) => new(Model, Temperature, TopP, MaxTokens, Stop?.ToArray(), TopK, Seed,
        FrequencyPenalty, PresencePenalty, ParseFormat(ResponseFormat, errors), ReasoningEffort,
        AdditionalProperties?.ToDictionary(kv => kv.Key, kv => JsonSerializer.Serialize(kv.Value), StringComparer.Ordinal),
        Tools?.ToArray(), ToolChoice, ParallelToolCalls, MaxIterations,
        ClientTools?.Select(t => t?.ToClientTool()!).ToArray(), RepairAttempts);

    /// <summary><c>"text"</c>, <c>"json"</c>, or <c>{"type": …, "name": …, "schema": {…}, "strict": …, "description": …}</c>.</summary>
    private static ResponseFormat? ParseFormat(JsonElement? body, List<string> errors)
    {
        if (body is not { } e || e.ValueKind == JsonValueKind.Null)
            return null;
        if (e.ValueKind == JsonValueKind.String)
            return new ResponseFormat(e.GetString()!);
        if (e.ValueKind != JsonValueKind.Object)
        {
            errors.Add("settings.responseFormat must be \"text\", \"json\" or an object with a type");
            return null;
        }
        string? type = null, name = null, description = null, schema = null;
        bool? strict = null;
        foreach (var p in e.EnumerateObject())
        {
            switch (p.Name)
            {
                case "type" when p.Value.ValueKind == JsonValueKind.String:
                    type = p.Value.GetString();
                    break;
                case "name" when p.Value.ValueKind == JsonValueKind.String:
                    name = p.Value.GetString();
                    break;
                case "description" when p.Value.ValueKind == JsonValueKind.String:
                    description = p.Value.GetString();
                    break;
                case "schema":
                    schema = JsonSerializer.Serialize(p.Value); // compact JSON text
                    break;
                case "strict" when p.Value.ValueKind is JsonValueKind.True or JsonValueKind.False:
                    strict = p.Value.GetBoolean();
                    break;
                case "type" or "name" or "description" or "strict":
                    errors.Add($"settings.responseFormat.{p.Name} has the wrong type");
                    break;
                default:
                    errors.Add($"settings.responseFormat.{p.Name} is not a field of a response format");
                    break;
            }
        }
        if (type is null)
        {
            errors.Add("settings.responseFormat.type is required");
            return null;
        }
        return new ResponseFormat(type, name, schema, strict, description);
    }

    /// <summary>The settings as the API shows them (a response format of type text or json as its bare type).</summary>
    public static object From(PromptSettings s) => new
    {
        model = s.Model, temperature = s.Temperature, topP = s.TopP, maxTokens = s.MaxTokens, stop = s.Stop, topK = s.TopK,
        seed = s.Seed, frequencyPenalty = s.FrequencyPenalty, presencePenalty = s.PresencePenalty,
        responseFormat = s.ResponseFormat switch
        {
            null => null,
            { Type: Prompts.ResponseFormat.JsonSchemaType } f => (object)new
            {
                type = f.Type, name = f.Name, schema = f.Schema is { } schema ? Json(schema) : (JsonElement?)null, strict = f.Strict,
                description = f.Description,
            },
            { } f => f.Type,
        },
        reasoningEffort = s.ReasoningEffort,
        tools = s.Tools, toolChoice = s.ToolChoice, parallelToolCalls = s.ParallelToolCalls, maxIterations = s.MaxIterations,
        repairAttempts = s.RepairAttempts,
        clientTools = s.ClientTools?.Select(t => new { name = t.Name, description = t.Description,
            parameters = t.Parameters is { } p ? Json(p) : (JsonElement?)null }),
        additionalProperties = s.AdditionalProperties?.ToDictionary(kv => kv.Key, kv => Json(kv.Value), StringComparer.Ordinal),
    };

    private static JsonElement Json(string text)
    {
        using var doc = JsonDocument.Parse(text);
        return doc.RootElement.Clone();
    }
}

/// <summary>A client tool as the API takes it: <c>{"name":…, "description":…, "parameters":{JSON Schema}}</c>.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record ClientToolBody(string? Name, string? Description = null, JsonElement? Parameters = null)
{
    public ClientTool ToClientTool() => new(Name!, Description,
        Parameters is { ValueKind: not JsonValueKind.Null } p ? JsonSerializer.Serialize(p) : null);
}
