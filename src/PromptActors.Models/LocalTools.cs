using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace PromptActors.Models;

/// <summary>
/// How the built-in <c>local</c> model uses tools, deterministically (so tools, approvals and the tool loop can be shown and
/// tested without an API key):
/// <list type="number">
/// <item>Tools are offered and the tool mode is not <c>none</c>, and no tool result came after the last user message: every
/// offered tool the user message names followed by a JSON object (<c>lookup_order {"orderId":"A-1"}</c>) is called with
/// that object, in the order they appear (only the first when parallel calls are off). Text after the name that starts with
/// <c>{</c> but is not JSON is still sent, as arguments that cannot be parsed.</item>
/// <item>When the mode requires a tool (<c>required</c>, or a tool's name) and rule 1 found none, the required tool (or the
/// first offered one) is called with the arguments of its last call in the conversation (<c>{}</c> when none), also after
/// tool results: a required tool loops until the turn's <c>maxIterations</c>.</item>
/// <item>Otherwise, after tool results, the reply is <c>name returned result</c> for each result since the last user message.</item>
/// </list>
/// Call ids are <c>call_N</c>, N counting every tool call of the conversation.
/// </summary>
public static class LocalTools
{
    /// <summary>The calls the model makes for these messages (empty: it answers with text).</summary>
    public static IReadOnlyList<FunctionCallContent> Calls(IReadOnlyList<ChatMessage> messages, ChatOptions? options)
    {
        if (options?.Tools is not { Count: > 0 } tools || options.ToolMode is NoneChatToolMode)
            return [];
        var names = tools.OfType<AIFunctionDeclaration>().Select(t => t.Name).ToArray();
        var lastUser = LastUserIndex(messages);
        var afterResults = lastUser >= 0 && messages.Skip(lastUser + 1).Any(m => m.Role == ChatRole.Tool);
        var calls = new List<(int At, string Name, string Json)>();
        if (!afterResults && lastUser >= 0)
            calls = Named(messages[lastUser].Text, names);
        if (options.AllowMultipleToolCalls == false && calls.Count > 1)
            calls = calls.Take(1).ToList();
        if (calls.Count == 0 && options.ToolMode is RequiredChatToolMode required)
        {
            var name = required.RequiredFunctionName ?? names.FirstOrDefault();
            if (name is not null)
            {
                var last = messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>().LastOrDefault(c => c.Name == name);
                calls.Add((0, name, last?.Arguments is { } a ? System.Text.Json.JsonSerializer.Serialize(a) : "{}"));
            }
        }
        var earlier = messages.Sum(m => m.Contents.OfType<FunctionCallContent>().Count());
        var result = new List<FunctionCallContent>(calls.Count);
        for (var i = 0; i < calls.Count; i++)
        {
            var callId = "call_" + (earlier + i + 1);
            result.Add(FunctionCallContent.CreateFromParsedArguments(calls[i].Json, callId, calls[i].Name, Parse));
        }
        return result;
    }

    /// <summary>The reply after tool results: <c>name returned result</c> per result since the last user message (null: none).</summary>
    public static string? Answer(IReadOnlyList<ChatMessage> messages)
    {
        var lastUser = LastUserIndex(messages);
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var m in messages)
        {
            foreach (var call in m.Contents.OfType<FunctionCallContent>())
                names[call.CallId] = call.Name;
        }
        var parts = new List<string>();
        foreach (var m in messages.Skip(lastUser + 1))
        {
            foreach (var r in m.Contents.OfType<FunctionResultContent>())
                parts.Add((names.GetValueOrDefault(r.CallId) ?? "tool") + " returned " + (r.Result?.ToString() ?? "null"));
        }
        return parts.Count == 0 ? null : string.Join("; ", parts);
    }

    private static int LastUserIndex(IReadOnlyList<ChatMessage> messages)
    {
        for (var i = messages.Count - 1; i >= 0; i--)
        {
            if (messages[i].Role == ChatRole.User)
                return i;
        }
        return -1;
    }

    private static List<(int At, string Name, string Json)> Named(string text, IReadOnlyList<string> names)
    {
        var found = new List<(int At, string Name, string Json)>();
        foreach (var name in names)
        {
            for (var at = text.IndexOf(name, StringComparison.Ordinal); at >= 0; at = text.IndexOf(name, at + name.Length, StringComparison.Ordinal))
            {
                if (at > 0 && IsNameChar(text[at - 1]) || at + name.Length < text.Length && IsNameChar(text[at + name.Length]))
                    continue;
                var rest = at + name.Length;
                while (rest < text.Length && text[rest] == ' ')
                    rest++;
                if (rest < text.Length && text[rest] == '{')
                    found.Add((at, name, JsonObjectAt(text, rest)));
            }
        }
        return found.OrderBy(f => f.At).ToList();
    }

    private static bool IsNameChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '_' or '-';

    /// <summary>The text from <paramref name="start"/> (a '{') to its matching '}', or to the end of the line when unbalanced.</summary>
    private static string JsonObjectAt(string text, int start)
    {
        var depth = 0;
        var inString = false;
        for (var i = start; i < text.Length; i++)
        {
            var c = text[i];
            if (inString)
            {
                if (c == '\\')
                    i++;
                else if (c == '"')
                    inString = false;
                continue;
            }
            if (c == '"')
                inString = true;
            else if (c == '{')
                depth++;
            else if (c == '}' && --depth == 0)
                return text[start..(i + 1)];
        }
        var end = text.IndexOf('\n', start);
        return end < 0 ? text[start..] : text[start..end];
    }

    private static IDictionary<string, object?>? Parse(string json)
    {
        using var doc = JsonDocument.Parse(json);
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
            throw new JsonException("the arguments must be a JSON object");
        var map = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (var p in doc.RootElement.EnumerateObject())
            map[p.Name] = p.Value.Clone();
        return map;
    }
}
