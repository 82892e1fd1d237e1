using Microsoft.Extensions.AI;
using PromptActors.Instances;
using PromptActors.Models;
using PromptActors.Variables;

namespace PromptActors.Prompts;

/// <summary>
/// The messages sent to the model for one turn; or the names of the variables that had no value; or
/// <see cref="TooLarge"/> when the turn's text would be longer than the limit given to the build.
/// </summary>
public sealed record BuiltMessages(IReadOnlyList<ChatMessage> Messages, IReadOnlyList<string> Missing, bool TooLarge = false)
{
    public bool Ok => Missing.Count == 0 && !TooLarge;
}

/// <summary>
/// Builds the chat for a turn: the prompt's template messages, then the conversation so far, then the new user input.
/// Variables are replaced (single pass) in template and user messages when <c>applyVariables</c> is on; assistant
/// replies are sent verbatim, so a model that wrote <c>{{x}}</c> cannot make the next turn fail or pull a variable in.
/// The prompt's missing-variable policy holds for its template messages only: a placeholder in user input that no layer
/// defines stays literal text (a chat message such as <c>what does {{foo}} mean?</c> is a question, not a template).
/// </summary>
public static class MessageBuilder
{
    public static BuiltMessages Build(
        Prompt prompt,
        IReadOnlyList<ConversationMessage> conversation,
        string? newUserInput,
        MergedVariables variables,
        bool applyVariables,
        int maxChars = int.MaxValue,
        IReadOnlyList<Attachments.MessagePart>? newUserParts = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxChars);
        var messages = new List<ChatMessage>(prompt.Messages.Count + conversation.Count + 1);
        List<string>? missing = applyVariables ? new List<string>() : null;
        long budget = maxChars; // characters the rest of the turn may still use

        bool Add(ChatRole role, string text, bool render, bool userText, IReadOnlyList<Attachments.MessagePart>? parts = null)
        {
            string content;
            if (!render)
                content = text;
            else if (!VariableResolver.TryRender(text, variables, userText ? MissingVariablePolicy.Keep : prompt.MissingVariables,
                         (int)Math.Max(0, budget), out content, userText ? null : missing))
                return false;
            budget -= content.Length + Attachments.PartContents.TextLength(parts);
            if (budget < 0)
                return false;
            if (parts is not { Count: > 0 })
            {
                messages.Add(new ChatMessage(role, content));
                return true;
            }
            // Parts go as they were sent: their text is not a template (variables are not replaced in it).
            var contents = new List<AIContent>(parts.Count + 1);
            if (content.Length > 0)
                contents.Add(new TextContent(content));
            Attachments.PartContents.Add(contents, parts);
            messages.Add(new ChatMessage(role, contents));
            return true;
        }

        var fits = true;
        foreach (var m in prompt.Messages)
            fits = fits && Add(ChatOptionsMapper.ToChatRole(m.Role), m.Content, applyVariables, userText: false);
        foreach (var m in conversation)
        {
            if (m.ToolCalls is { Count: > 0 } || m.Role == MessageRole.Tool)
            {
                // Tool calls and results go verbatim, as Microsoft.Extensions.AI contents.
                budget -= m.Content.Length + (m.ToolCalls?.Sum(c => c.Arguments.Length) ?? 0);
                fits = fits && budget >= 0;
                if (fits)
                    messages.Add(ToolMessage(m));
                continue;
            }
            fits = fits && Add(ChatOptionsMapper.ToChatRole(m.Role), m.Content, applyVariables && m.Role != MessageRole.Assistant, userText: true,
                m.Parts);
        }
        if (newUserInput is not null)
            fits = fits && Add(ChatRole.User, newUserInput, applyVariables, userText: true, newUserParts);
        if (!fits)
            return new BuiltMessages(Array.Empty<ChatMessage>(), Array.Empty<string>(), TooLarge: true);

        if (missing is null || missing.Count == 0 || prompt.MissingVariables != MissingVariablePolicy.Error)
            return new BuiltMessages(messages, Array.Empty<string>());
        var distinct = missing.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        return new BuiltMessages(messages, distinct);
    }

    /// <summary>An assistant message with the tool calls it asked for, or a tool's result, as the model is given it.</summary>
    public static ChatMessage ToolMessage(ConversationMessage m)
    {
        if (m.Role == MessageRole.Tool)
            return new ChatMessage(ChatRole.Tool, [new FunctionResultContent(m.ToolCallId ?? "", m.Content)]);
        var contents = new List<AIContent>(1 + m.ToolCalls!.Count);
        if (m.Content.Length > 0)
            contents.Add(new TextContent(m.Content));
        foreach (var call in m.ToolCalls)
            contents.Add(new FunctionCallContent(call.CallId, call.Name, ParseArguments(call.Arguments)));
        return new ChatMessage(ChatRole.Assistant, contents);
    }

    private static IDictionary<string, object?>? ParseArguments(string json)
    {
        if (json.Length == 0)
            return null;
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(json);
            if (doc.RootElement.ValueKind != System.Text.Json.JsonValueKind.Object)
                return null;
            var map = new Dictionary<string, object?>(StringComparer.Ordinal);
            foreach (var p in doc.RootElement.EnumerateObject())
                map[p.Name] = p.Value.Clone();
            return map;
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }
}
