using System.Text.Json;

namespace PromptActors.Prompts;

/// <summary>Checks JSON Schemas and JSON against them (PromptActors.Models registers one on JsonSchema.Net).</summary>
public interface IJsonSchemaValidator
{
    /// <summary>Why <paramref name="schema"/> (JSON text) is not a JSON Schema the validator can apply (empty when it is).</summary>
    IReadOnlyList<string> CheckSchema(string schema);

    /// <summary>Where <paramref name="instance"/> breaks <paramref name="schema"/> (JSON text; empty when it is valid).</summary>
    IReadOnlyList<string> Validate(string schema, JsonElement instance);
}

/// <summary>
/// The output of a reply whose prompt asks for JSON: the reply's text parsed, and checked against the schema of a
/// <c>json_schema</c> format. A valid reply's output is derived from its text (kept in the journal and on the task row as
/// <c>response_text</c>), so it is the same after recovery and on every node.
/// </summary>
public static class StructuredOutput
{
    /// <summary>Longest list of schema errors kept in an <c>invalid_output</c> detail.</summary>
    public const int MaxErrorsShown = 5;

    /// <summary>The parsed output of a reply that was accepted under <paramref name="format"/>; null for text or non-JSON.</summary>
    public static JsonElement? Parse(string text, ResponseFormat? format)
    {
        if (format is not { IsJson: true })
            return null;
        try
        {
            using var doc = JsonDocument.Parse(text);
            return doc.RootElement.Clone();
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>
    /// Checks a finished reply: null when it is acceptable under <paramref name="format"/>, else why not (no reply content
    /// in the message: schema errors name the location and the rule).
    /// </summary>
    public static string? Check(string text, ResponseFormat? format, IJsonSchemaValidator? validator)
    {
        if (format is not { IsJson: true })
            return null;
        JsonElement output;
        try
        {
            using var doc = JsonDocument.Parse(text);
            output = doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            return $"the reply is not JSON (line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1})";
        }
        if (format.Type != ResponseFormat.JsonSchemaType || format.Schema is not { } schema)
            return null;
        if (validator is null)
            return "no JSON Schema validator is registered to check the reply";
        var errors = validator.Validate(schema, output);
        if (errors.Count == 0)
            return null;
        var shown = string.Join("; ", errors.Take(MaxErrorsShown));
        return errors.Count > MaxErrorsShown
            ? $"the reply does not match the schema '{format.Name}': {shown}; and {errors.Count - MaxErrorsShown} more"
            : $"the reply does not match the schema '{format.Name}': {shown}";
    }
}
