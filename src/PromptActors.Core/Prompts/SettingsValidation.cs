using System.Text.Json;

namespace PromptActors.Prompts;

/// <summary>The checks of a prompt's response format, reasoning effort and provider pass-through properties.</summary>
public static class SettingsValidation
{
    /// <summary>The reasoning efforts a prompt may ask for (Microsoft.Extensions.AI's <c>ReasoningEffort</c>).</summary>
    public static readonly IReadOnlyList<string> ReasoningEfforts = ["none", "low", "medium", "high", "extra_high"];

    /// <summary>Most pass-through properties a prompt may set, and their largest total size (JSON, UTF-8).</summary>
    public const int MaxAdditionalProperties = 32;
    public const int MaxAdditionalPropertiesBytes = 16 * 1024;

    /// <summary>Largest JSON schema a prompt may carry (JSON, UTF-8).</summary>
    public const int MaxSchemaBytes = 64 * 1024;

    /// <summary>
    /// Request fields the engine sets itself or that have a named setting: a pass-through property may not replace them.
    /// </summary>
    public static readonly IReadOnlySet<string> ReservedProperties = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        "model", "messages", "stream", "stream_options", "n", "tools", "tool_choice", "parallel_tool_calls",
        "temperature", "top_p", "top_k", "max_tokens", "max_completion_tokens", "stop", "seed", "frequency_penalty",
        "presence_penalty", "response_format", "reasoning_effort", "strict",
    };

    public static void Check(PromptSettings s, List<string> errors)
    {
        if (s.ResponseFormat is { } format)
            CheckFormat(format, errors);
        if (s.ReasoningEffort is { } effort && !ReasoningEfforts.Contains(effort))
            errors.Add("settings.reasoningEffort must be " + string.Join(", ", ReasoningEfforts));
        if (s.AdditionalProperties is { } extra)
            CheckAdditional(extra, errors);
        CheckTools(s, errors);
    }

    /// <summary>Most tools a prompt may offer, and most model calls it may allow a turn.</summary>
    public const int MaxTools = 64;
    public const int MaxIterationsLimit = 64;
    public const int MaxRepairAttempts = 5;

    /// <summary>The tool choices besides a tool's name.</summary>
    public static readonly IReadOnlyList<string> ToolChoices = ["auto", "none", "required"];

    private static void CheckTools(PromptSettings s, List<string> errors)
    {
        if (s.Tools is { } tools)
        {
            if (tools.Count > MaxTools)
                errors.Add($"settings.tools may name at most {MaxTools} tools");
            for (var i = 0; i < tools.Count; i++)
            {
                if (!Tools.ToolCollection.IsToolName(tools[i]))
                    errors.Add($"settings.tools[{i}] must be a tool name (1-64 letters, digits, '_' or '-')");
            }
            if (tools.Distinct(StringComparer.Ordinal).Count() != tools.Count)
                errors.Add("settings.tools names a tool twice");
        }
        if (s.ClientTools is { } client)
        {
            if (client.Count > MaxTools)
                errors.Add($"settings.clientTools may declare at most {MaxTools} tools");
            for (var i = 0; i < client.Count; i++)
            {
                var t = client[i];
                if (t is null || !Tools.ToolCollection.IsToolName(t.Name))
                    errors.Add($"settings.clientTools[{i}].name must be a tool name (1-64 letters, digits, '_' or '-')");
                else if (s.Tools?.Contains(t.Name) ?? false)
                    errors.Add($"settings.clientTools[{i}].name '{t.Name}' is also in settings.tools");
                if (t?.Description is { Length: > 1024 })
                    errors.Add($"settings.clientTools[{i}].description must be at most 1024 characters");
                if (t?.Parameters is { } parameters && (Kind(parameters) != JsonValueKind.Object
                        || System.Text.Encoding.UTF8.GetByteCount(parameters) > MaxSchemaBytes))
                    errors.Add($"settings.clientTools[{i}].parameters must be a JSON object (a JSON Schema) of at most {MaxSchemaBytes} bytes");
            }
            if (client.Where(t => t is not null).Select(t => t.Name).Distinct(StringComparer.Ordinal).Count() != client.Count(t => t is not null))
                errors.Add("settings.clientTools declares a tool twice");
        }
        var offered = OfferedNames(s);
        if (s.ToolChoice is { } choice && !ToolChoices.Contains(choice) && !offered.Contains(choice))
            errors.Add("settings.toolChoice must be auto, none, required or one of settings.tools or settings.clientTools");
        if (s.ToolChoice is "required" && offered.Count == 0)
            errors.Add("settings.toolChoice required needs settings.tools or settings.clientTools");
        if (s.MaxIterations is { } max && (max < 1 || max > MaxIterationsLimit))
            errors.Add($"settings.maxIterations must be 1 to {MaxIterationsLimit}");
        if (s.RepairAttempts is { } repairs && (repairs < 0 || repairs > MaxRepairAttempts))
            errors.Add($"settings.repairAttempts must be 0 to {MaxRepairAttempts}");
    }

    /// <summary>Whether the settings offer the model any tool (no allocation: asked on every model call).</summary>
    public static bool OffersTools(PromptSettings s) => s.Tools is { Count: > 0 } || s.ClientTools is { Count: > 0 };

    /// <summary>Every tool name the settings offer the model: registered tools and client tools.</summary>
    public static IReadOnlyList<string> OfferedNames(PromptSettings s) =>
        [.. s.Tools ?? [], .. (s.ClientTools ?? []).Where(t => t is not null).Select(t => t.Name)];

    /// <summary>The tools <paramref name="s"/> names that <paramref name="registry"/> does not have.</summary>
    public static IReadOnlyList<string> UnknownTools(PromptSettings s, Tools.IToolRegistry? registry) =>
        s.Tools is not { Count: > 0 } tools
            ? []
            : tools.Where(t => registry is null || !registry.TryGet(t, out _)).ToArray();

    private static void CheckFormat(ResponseFormat format, List<string> errors)
    {
        switch (format.Type)
        {
            case ResponseFormat.TextType or ResponseFormat.JsonType:
                if (format.Name is not null || format.Schema is not null || format.Strict is not null || format.Description is not null)
                    errors.Add("settings.responseFormat: name, schema, strict and description belong to type json_schema");
                break;
            case ResponseFormat.JsonSchemaType:
                if (!IsSchemaName(format.Name))
                    errors.Add("settings.responseFormat.name must be 1-64 letters, digits, '_' or '-'");
                if (format.Schema is not { } schema || Kind(schema) != JsonValueKind.Object)
                    errors.Add("settings.responseFormat.schema must be a JSON object (a JSON Schema)");
                else if (System.Text.Encoding.UTF8.GetByteCount(schema) > MaxSchemaBytes)
                    errors.Add($"settings.responseFormat.schema must be at most {MaxSchemaBytes} bytes");
                if (format.Description is { Length: > 1024 })
                    errors.Add("settings.responseFormat.description must be at most 1024 characters");
                break;
            default:
                errors.Add("settings.responseFormat.type must be text, json or json_schema");
                break;
        }
    }

    private static bool IsSchemaName(string? name) =>
        name is { Length: > 0 and <= 64 } && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-');

    /// <summary>The kind of the JSON value in <paramref name="json"/>; Undefined when it is not one JSON value.</summary>
    public static JsonValueKind Kind(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            return doc.RootElement.ValueKind;
        }
        catch (JsonException)
        {
            return JsonValueKind.Undefined;
        }
    }

    private static void CheckAdditional(IReadOnlyDictionary<string, string> extra, List<string> errors)
    {
        if (extra.Count > MaxAdditionalProperties)
            errors.Add($"settings.additionalProperties may hold at most {MaxAdditionalProperties} properties");
        foreach (var key in extra.Keys)
        {
            if (key.Length is 0 or > 64 || !key.All(c => char.IsAsciiLetterOrDigit(c) || c is '_'))
                errors.Add($"settings.additionalProperties: '{Shown(key)}' must be 1-64 letters, digits or '_'");
            else if (ReservedProperties.Contains(key))
                errors.Add($"settings.additionalProperties: '{key}' is set by the engine or by a named setting");
            else if (extra[key] is null || Kind(extra[key]) == JsonValueKind.Undefined)
                errors.Add($"settings.additionalProperties: '{key}' must be a JSON value");
        }
        if (extra.Sum(kv => kv.Key.Length + System.Text.Encoding.UTF8.GetByteCount(kv.Value ?? "")) > MaxAdditionalPropertiesBytes)
            errors.Add($"settings.additionalProperties must be at most {MaxAdditionalPropertiesBytes} bytes");
    }

    private static string Shown(string key) => key.Length > 64 ? key[..64] + "…" : key;
}
