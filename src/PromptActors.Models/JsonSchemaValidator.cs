using System.Collections.Concurrent;
using System.Text.Json;
using Json.Schema;
using PromptActors.Prompts;

namespace PromptActors.Models;

/// <summary>
/// JSON Schema (draft 2020-12 by default, or the draft a schema's <c>$schema</c> names) on JsonSchema.Net. A schema is
/// built once per distinct text and kept (up to <see cref="MaxCached"/>); every schema gets its own registry, so one
/// prompt's <c>$id</c> never resolves another's, and nothing is fetched over the network.
/// </summary>
public sealed class JsonSchemaValidator : IJsonSchemaValidator
{
    public const int MaxCached = 512;
    private const int MaxErrors = 20;

    private readonly ConcurrentDictionary<string, JsonSchema> _built = new(StringComparer.Ordinal);

    public IReadOnlyList<string> CheckSchema(string schema)
    {
        var errors = new List<string>();
        try
        {
            using var doc = JsonDocument.Parse(schema);
            var meta = MetaSchemas.Draft202012.Evaluate(doc.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
            if (!meta.IsValid)
                Collect(meta, errors);
            if (errors.Count == 0)
            {
                // References are resolved when evaluated: one probe evaluation reaches the ones on the root's path.
                using var probe = JsonDocument.Parse("null");
                Build(schema).Evaluate(probe.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.Flag });
            }
        }
        catch (Exception e) when (e is JsonSchemaException or RefResolutionException or JsonException or ArgumentException
                                      or InvalidOperationException or FormatException or UriFormatException)
        {
            errors.Add(e.Message);
        }
        return errors;
    }

    public IReadOnlyList<string> Validate(string schema, JsonElement instance)
    {
        var errors = new List<string>();
        EvaluationResults results;
        try
        {
            results = Build(schema).Evaluate(instance, new EvaluationOptions { OutputFormat = OutputFormat.List });
        }
        catch (Exception e) when (e is JsonSchemaException or RefResolutionException or InvalidOperationException or ArgumentException)
        {
            // A reference reached only by this reply: the reply cannot be shown valid, and the instance carries on.
            return [$"the schema could not be applied: {e.Message}"];
        }
        if (!results.IsValid)
            Collect(results, errors);
        if (!results.IsValid && errors.Count == 0)
            errors.Add("the value does not match the schema");
        return errors;
    }

    private JsonSchema Build(string text)
    {
        if (_built.TryGetValue(text, out var built))
            return built;
        using var doc = JsonDocument.Parse(text);
        built = JsonSchema.Build(doc.RootElement.Clone(), new BuildOptions { SchemaRegistry = new SchemaRegistry() });
        if (_built.Count >= MaxCached)
            _built.Clear();
        _built[text] = built;
        return built;
    }

    private static void Collect(EvaluationResults results, List<string> errors)
    {
        if (results.Errors is { } own)
            Add(results, own, errors);
        if (results.Details is { } details)
        {
            foreach (var detail in details)
            {
                if (detail.Errors is { } found)
                    Add(detail, found, errors);
            }
        }
    }

    private static void Add(EvaluationResults at, IReadOnlyDictionary<string, string> found, List<string> errors)
    {
        foreach (var (keyword, message) in found)
        {
            if (errors.Count >= MaxErrors)
                return;
            var location = at.InstanceLocation.ToString();
            errors.Add($"{(location.Length == 0 ? "/" : location)}: {keyword}: {message}");
        }
    }
}
