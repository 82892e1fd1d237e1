using PromptActors.Variables;

namespace PromptActors.Prompts;

/// <summary>Chat roles a prompt or conversation message may have.</summary>
public enum MessageRole
{
    System,
    User,
    Assistant,

    /// <summary>A tool's result in a conversation (never in a prompt's template).</summary>
    Tool,
}

/// <summary>One template message; <see cref="Content"/> may hold <c>{{placeholders}}</c>.</summary>
public sealed record PromptMessage(MessageRole Role, string Content);

/// <summary>Default value of a variable declared by the prompt.</summary>
public sealed record VariableDefault(string Name, string? DefaultValue = null, bool Required = false);

/// <summary>
/// Model settings of a prompt, passed to the model as ChatOptions. <see cref="ReasoningEffort"/> is <c>none</c>, <c>low</c>,
/// <c>medium</c>, <c>high</c> or <c>extra_high</c> (providers without reasoning ignore it); <see cref="AdditionalProperties"/>
/// are passed to the provider as they are (the OpenAI-compatible provider adds them to the request body); each value is
/// JSON text (<c>"\"flex\""</c>, <c>"{\"team\":\"a\"}"</c>). JSON values are kept as text so every serializer (the journal's,
/// the wire's, Akka's own in tests) carries them unchanged. <see cref="Tools"/> names registered tools the model may call;
/// <see cref="ToolChoice"/> is <c>auto</c> (the default), <c>none</c>, <c>required</c> or one of those names;
/// <see cref="MaxIterations"/> bounds the model calls of one turn (default 8). <see cref="ClientTools"/> are tools the
/// caller runs itself (the original's <c>client_tools</c>): a call of one pauses the turn until the caller posts its result.
/// <see cref="RepairAttempts"/> (default 1) is how many more model calls may repair a reply that is not the JSON asked for.
/// </summary>
public sealed record PromptSettings(
    string? Model = null,
    double? Temperature = null,
    double? TopP = null,
    int? MaxTokens = null,
    IReadOnlyList<string>? Stop = null,
    int? TopK = null,
    long? Seed = null,
    double? FrequencyPenalty = null,
    double? PresencePenalty = null,
    ResponseFormat? ResponseFormat = null,
    string? ReasoningEffort = null,
    IReadOnlyDictionary<string, string>? AdditionalProperties = null,
    IReadOnlyList<string>? Tools = null,
    string? ToolChoice = null,
    bool? ParallelToolCalls = null,
    int? MaxIterations = null,
    IReadOnlyList<ClientTool>? ClientTools = null,
    int? RepairAttempts = null)
{
    public static readonly PromptSettings Default = new();

    /// <summary>Model calls a turn may make when <see cref="MaxIterations"/> is not set.</summary>
    public const int DefaultMaxIterations = 8;

    /// <summary>Model calls a turn may make (a model call, its tool calls, the next model call… counts the model calls).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public int IterationLimit => MaxIterations ?? DefaultMaxIterations;

    /// <summary>Repairs of an invalid JSON reply when <see cref="RepairAttempts"/> is not set.</summary>
    public const int DefaultRepairAttempts = 1;

    /// <summary>
    /// How many more model calls a turn may make to repair a reply that is not the JSON <see cref="ResponseFormat"/> asks
    /// for (each is told the validation errors); after that the turn fails <c>invalid_output</c>.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public int RepairLimit => RepairAttempts ?? DefaultRepairAttempts;
}

/// <summary>
/// A tool the caller runs itself: its name (1-64 letters, digits, '_' or '-', not a registered tool's), what it does, and
/// its parameters as a JSON Schema (JSON text; an object schema). The model may call it like any tool; the turn then waits
/// with <c>awaiting_tool_results</c> for <c>POST /v1/instances/{id}/tool-results</c>.
/// </summary>
public sealed record ClientTool(string Name, string? Description = null, string? Parameters = null);

/// <summary>
/// What the reply must be: <c>text</c> (the default), <c>json</c> (any JSON value) or <c>json_schema</c> (a JSON instance
/// of <see cref="Schema"/>, JSON text, named <see cref="Name"/>; <see cref="Strict"/> asks the provider to enforce it). The
/// provider gets it natively; the engine checks the final reply and keeps its parsed JSON as the task's output.
/// </summary>
public sealed record ResponseFormat(string Type, string? Name = null, string? Schema = null, bool? Strict = null,
    string? Description = null)
{
    public const string TextType = "text";
    public const string JsonType = "json";
    public const string JsonSchemaType = "json_schema";

    /// <summary>True when the reply must be JSON (with or without a schema).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public bool IsJson => Type is JsonType or JsonSchemaType;
}

/// <summary>What a caller saves; the store assigns the version.</summary>
public sealed record PromptDefinition(
    string Id,
    string Name,
    IReadOnlyList<PromptMessage> Messages,
    string? Description = null,
    IReadOnlyList<VariableDefault>? VariableDefaults = null,
    PromptSettings? Settings = null,
    MissingVariablePolicy MissingVariables = MissingVariablePolicy.Error);

/// <summary>A stored prompt at one version. Versions start at 1 and grow by one on every save.</summary>
public sealed record Prompt(
    string Id,
    int Version,
    string Name,
    string? Description,
    IReadOnlyList<PromptMessage> Messages,
    IReadOnlyList<VariableDefault> VariableDefaults,
    PromptSettings Settings,
    MissingVariablePolicy MissingVariables,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    PromptOwner? Owner = null) : IPromptActorsMessage
{
    /// <summary>The scope the prompt is saved in (null, in prompts read before owners were kept, is a built-in).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public PromptOwner OwnedBy => Owner ?? PromptOwner.BuiltIn;

    /// <summary>The defaults layer for the resolver: declared variables with a default value.</summary>
    public IReadOnlyDictionary<string, string> DefaultValues()
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var d in VariableDefaults)
        {
            if (d.DefaultValue is not null)
                map[d.Name] = d.DefaultValue;
        }
        return map;
    }
}
