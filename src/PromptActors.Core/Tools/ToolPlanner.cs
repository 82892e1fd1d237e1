using System.Text.Json;
using Microsoft.Extensions.AI;
using PromptActors.Instances;
using PromptActors.Prompts;

namespace PromptActors.Tools;

/// <summary>
/// What the calls a model asked for become before anything runs: a call of a tool the turn does not offer, or whose
/// arguments are not valid JSON or do not fit the tool's schema, is failed at once with an error the model is told (it is
/// never invoked); a call of a tool that requires approval waits; every other call starts.
/// </summary>
public static class ToolPlanner
{
    /// <summary>Longest arguments text kept for a call (longer ones are refused, not invoked).</summary>
    public const int MaxArgumentsChars = 64 * 1024;

    /// <param name="usedIds">Call ids the turn used already: a provider that repeats one (<c>call_0</c> in every model call)
    /// gets a fresh id for the repeat, so ledger rows and idempotency keys stay one per call.</param>
    public static IReadOnlyList<RequestedToolCall> Plan(IReadOnlyList<FunctionCallContent> calls, PromptSettings settings,
        IToolRegistry? registry, IJsonSchemaValidator? schemas, IEnumerable<string>? usedIds = null)
    {
        var planned = new List<RequestedToolCall>(calls.Count);
        var seen = new HashSet<string>(usedIds ?? [], StringComparer.Ordinal);
        foreach (var call in calls)
        {
            var callId = string.IsNullOrEmpty(call.CallId) || !seen.Add(call.CallId) ? "call_" + Guid.NewGuid().ToString("N")[..12] : call.CallId;
            seen.Add(callId);
            var name = call.Name ?? "";
            if (settings.ClientTools?.FirstOrDefault(t => t.Name == name) is { } client)
            {
                // The caller runs it: the turn waits for its result (arguments that are not JSON are refused as for any tool).
                planned.Add(call.Exception is { } bad
                    ? Failed(callId, name, "", "error: the arguments are not valid JSON (" + bad.GetBaseException().Message + "); the tool was not called")
                    : new RequestedToolCall(callId, name, Arguments(call), ToolCallStatus.AwaitingClient, ToolPolicy.AtMostOnce));
                continue;
            }
            var offered = settings.Tools?.Contains(name) ?? false;
            ToolRegistration? tool = null;
            if (!offered || registry is null || !registry.TryGet(name, out tool))
            {
                planned.Add(Failed(callId, name, Arguments(call), $"error: there is no tool named '{Cut(name, 64)}' in this conversation"));
                continue;
            }
            if (call.Exception is { } parse)
            {
                planned.Add(Failed(callId, name, "", "error: the arguments are not valid JSON (" + parse.GetBaseException().Message + "); the tool was not called"));
                continue;
            }
            var arguments = Arguments(call);
            if (arguments.Length > MaxArgumentsChars)
            {
                planned.Add(Failed(callId, name, "", $"error: the arguments are longer than {MaxArgumentsChars} characters; the tool was not called"));
                continue;
            }
            if (schemas is not null && SchemaErrors(tool.Function, arguments, schemas) is { Count: > 0 } errors)
            {
                planned.Add(Failed(callId, name, arguments,
                    "error: the arguments do not match the tool's schema (" + string.Join("; ", errors.Take(5)) + "); the tool was not called"));
                continue;
            }
            planned.Add(new RequestedToolCall(callId, name, arguments,
                tool.NeedsApproval ? ToolCallStatus.AwaitingApproval : ToolCallStatus.Running, tool.Policy));
        }
        return planned;
    }

    /// <summary>The call's arguments as JSON text (<c>{}</c> when it has none).</summary>
    public static string Arguments(FunctionCallContent call) =>
        call.Arguments is null ? "{}" : JsonSerializer.Serialize(call.Arguments, ToolResults.Compact);

    private static IReadOnlyList<string> SchemaErrors(AIFunction function, string arguments, IJsonSchemaValidator schemas)
    {
        if (function.JsonSchema.ValueKind != JsonValueKind.Object)
            return [];
        using var doc = JsonDocument.Parse(arguments);
        return schemas.Validate(function.JsonSchema.GetRawText(), doc.RootElement);
    }

    private static RequestedToolCall Failed(string callId, string name, string arguments, string error) =>
        new(callId, ToolCollection.IsToolName(name) ? name : Cut(name, 64), arguments.Length > MaxArgumentsChars ? "" : arguments,
            ToolCallStatus.Failed, ToolPolicy.AtMostOnce, error);

    private static string Cut(string s, int max) => s.Length <= max ? s : s[..max];
}

/// <summary>The texts the model is told for a call that did not give a result of its own, and the cut of long results.</summary>
public static class ToolResults
{
    /// <summary>Microsoft.Extensions.AI's JSON options without indentation: results and arguments are kept compact.</summary>
    public static readonly JsonSerializerOptions Compact = new(AIJsonUtilities.DefaultOptions) { WriteIndented = false };

    public const string OutcomeUnknown =
        "outcome_unknown: the tool was started but the engine stopped before its result was recorded; it was not called again, " +
        "so whether it took effect is unknown";

    public static string Rejection(string? reason) =>
        string.IsNullOrWhiteSpace(reason) ? "rejected: a person declined this call; it was not made" : "rejected: a person declined this call (" + reason + "); it was not made";

    public static string Threw(Exception e) => "error: the tool failed: " + e.GetBaseException().Message;

    public static string TimedOut(TimeSpan timeout) =>
        $"error: the tool did not finish within {timeout.TotalSeconds:0.###} s and was cancelled";

    /// <summary>
    /// The tool's return value as text: a string as it is, JSON as JSON text, anything else serialized to JSON; longer than
    /// <paramref name="maxChars"/> it is cut and marked.
    /// </summary>
    public static string Format(object? value, int maxChars)
    {
        var text = value switch
        {
            null => "null",
            string s => s,
            JsonElement { ValueKind: JsonValueKind.String } e => e.GetString()!,
            JsonElement e => JsonSerializer.Serialize(e, Compact),
            _ => JsonSerializer.Serialize(value, Compact),
        };
        return Cut(text, maxChars);
    }

    public static string Cut(string text, int maxChars) => text.Length <= maxChars
        ? text
        : string.Concat(text.AsSpan(0, maxChars), $" …[cut: {text.Length - maxChars} more characters]");

    /// <summary>The start of a result shown in a <c>tool_result</c> stream event.</summary>
    public static string Preview(string result) => result.Length <= 200 ? result : string.Concat(result.AsSpan(0, 200), "…");
}
