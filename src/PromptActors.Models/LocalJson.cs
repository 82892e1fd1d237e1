using System.Text;
using System.Text.Json;

namespace PromptActors.Models;

/// <summary>
/// What the <c>local</c> model answers when a prompt asks for JSON: for a schema, a deterministic instance of it (every
/// property, the first of an <c>enum</c> / <c>anyOf</c> / <c>oneOf</c>, the lowest allowed number, a string made of the
/// input's words within its length bounds, well-known formats with fixed values, local <c>$ref</c>s followed); without one,
/// <c>{"reply": "…"}</c>. A string <c>pattern</c> is not honoured.
/// </summary>
internal static class LocalJson
{
    private const int MaxDepth = 16;

    public static string For(JsonElement? schema, string echo)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            if (schema is { } root)
                Write(writer, root, root, echo, 0);
            else
            {
                writer.WriteStartObject();
                writer.WriteString("reply", echo);
                writer.WriteEndObject();
            }
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void Write(Utf8JsonWriter w, JsonElement s, JsonElement root, string echo, int depth)
    {
        if (s.ValueKind != JsonValueKind.Object || depth > MaxDepth)
        {
            // true / {} / too deep: any value is valid.
            w.WriteNullValue();
            return;
        }
        if (s.TryGetProperty("$ref", out var r) && Resolve(root, r.GetString()) is { } target)
        {
            Write(w, target, root, echo, depth + 1);
            return;
        }
        if (s.TryGetProperty("const", out var constant))
        {
            constant.WriteTo(w);
            return;
        }
        if (s.TryGetProperty("enum", out var options) && options.ValueKind == JsonValueKind.Array && options.GetArrayLength() > 0)
        {
            options[0].WriteTo(w);
            return;
        }
        foreach (var choice in (string[])["anyOf", "oneOf", "allOf"])
        {
            if (s.TryGetProperty(choice, out var list) && list.ValueKind == JsonValueKind.Array && list.GetArrayLength() > 0)
            {
                Write(w, list[0], root, echo, depth + 1);
                return;
            }
        }
        switch (TypeOf(s))
        {
            case "object":
                w.WriteStartObject();
                var written = new HashSet<string>(StringComparer.Ordinal);
                if (s.TryGetProperty("properties", out var properties) && properties.ValueKind == JsonValueKind.Object)
                {
                    foreach (var p in properties.EnumerateObject())
                    {
                        w.WritePropertyName(p.Name);
                        Write(w, p.Value, root, echo, depth + 1);
                        written.Add(p.Name);
                    }
                }
                if (s.TryGetProperty("required", out var required) && required.ValueKind == JsonValueKind.Array)
                {
                    foreach (var name in required.EnumerateArray())
                    {
                        if (name.GetString() is { } n && written.Add(n))
                            w.WriteString(n, echo);
                    }
                }
                w.WriteEndObject();
                break;
            case "array":
                w.WriteStartArray();
                var count = 0;
                if (s.TryGetProperty("prefixItems", out var prefix) && prefix.ValueKind == JsonValueKind.Array)
                {
                    foreach (var item in prefix.EnumerateArray())
                    {
                        Write(w, item, root, echo, depth + 1);
                        count++;
                    }
                }
                var wanted = Math.Max(Int(s, "minItems") ?? 1, count);
                if (Int(s, "maxItems") is { } most)
                    wanted = Math.Min(wanted, most);
                var items = s.TryGetProperty("items", out var i) ? i : default;
                for (; count < wanted; count++)
                {
                    if (items.ValueKind == JsonValueKind.Undefined)
                        w.WriteStringValue(echo);
                    else
                        Write(w, items, root, echo, depth + 1);
                }
                w.WriteEndArray();
                break;
            case "integer":
            case "number":
                w.WriteNumberValue(Number(s, TypeOf(s) == "integer"));
                break;
            case "boolean":
                w.WriteBooleanValue(true);
                break;
            case "null":
                w.WriteNullValue();
                break;
            default:
                w.WriteStringValue(Text(s, echo));
                break;
        }
    }

    private static string TypeOf(JsonElement s)
    {
        if (s.TryGetProperty("type", out var type))
        {
            if (type.ValueKind == JsonValueKind.String)
                return type.GetString()!;
            if (type.ValueKind == JsonValueKind.Array)
            {
                string? first = null;
                foreach (var t in type.EnumerateArray())
                {
                    var name = t.GetString();
                    first ??= name;
                    if (name != "null")
                        return name!;
                }
                return first ?? "string";
            }
        }
        if (s.TryGetProperty("properties", out _) || s.TryGetProperty("required", out _))
            return "object";
        if (s.TryGetProperty("items", out _) || s.TryGetProperty("prefixItems", out _))
            return "array";
        return "string";
    }

    private static decimal Number(JsonElement s, bool integer)
    {
        decimal value = 0;
        if (Dec(s, "minimum") is { } min)
            value = min;
        else if (Dec(s, "exclusiveMinimum") is { } above)
            value = integer ? Math.Floor(above) + 1 : above + 0.5m;
        if (Dec(s, "maximum") is { } max && value > max)
            value = max;
        if (Dec(s, "exclusiveMaximum") is { } below && value >= below)
            value = integer ? Math.Ceiling(below) - 1 : below - 0.5m;
        return integer ? Math.Ceiling(value) : value;
    }

    private static string Text(JsonElement s, string echo)
    {
        var text = (s.TryGetProperty("format", out var format) ? format.GetString() : null) switch
        {
            "date-time" => "2026-01-01T00:00:00Z",
            "date" => "2026-01-01",
            "time" => "00:00:00Z",
            "email" => "local@example.com",
            "uri" or "url" => "https://example.com/",
            "uuid" => "00000000-0000-0000-0000-000000000000",
            "ipv4" => "127.0.0.1",
            "hostname" => "example.com",
            _ => echo,
        };
        if (Int(s, "maxLength") is { } most && text.Length > most)
            text = text[..most];
        if (Int(s, "minLength") is { } least && text.Length < least)
            text = text.PadRight(least, 'x');
        return text;
    }

    private static JsonElement? Resolve(JsonElement root, string? reference)
    {
        if (reference is null || !reference.StartsWith('#'))
            return null;
        var at = root;
        foreach (var part in reference[1..].Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            var name = part.Replace("~1", "/").Replace("~0", "~");
            if (at.ValueKind != JsonValueKind.Object || !at.TryGetProperty(name, out at))
                return null;
        }
        return at;
    }

    private static int? Int(JsonElement s, string name) =>
        s.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i : null;

    private static decimal? Dec(JsonElement s, string name) =>
        s.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetDecimal(out var d) ? d : null;
}
