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
        int maxChars = int.MaxValue)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxChars);
        var messages = new List<ChatMessage>(prompt.Messages.Count + conversation.Count + 1);
        List<string>? missing = applyVariables ? new List<string>() : null;
        long budget = maxChars; // characters the rest of the turn may still use

        bool Add(ChatRole role, string text, bool render, bool userText)
        {
            string content;
            if (!render)
                content = text;
            else if (!VariableResolver.TryRender(text, variables, userText ? MissingVariablePolicy.Keep : prompt.MissingVariables,
                         (int)Math.Max(0, budget), out content, userText ? null : missing))
                return false;
            budget -= content.Length;
            if (budget < 0)
                return false;
            messages.Add(new ChatMessage(role, content));
            return true;
        }

        var fits = true;
        foreach (var m in prompt.Messages)
            fits = fits && Add(ChatOptionsMapper.ToChatRole(m.Role), m.Content, applyVariables, userText: false);
        foreach (var m in conversation)
            fits = fits && Add(ChatOptionsMapper.ToChatRole(m.Role), m.Content, applyVariables && m.Role != MessageRole.Assistant, userText: true);
        if (newUserInput is not null)
            fits = fits && Add(ChatRole.User, newUserInput, applyVariables, userText: true);
        if (!fits)
            return new BuiltMessages(Array.Empty<ChatMessage>(), Array.Empty<string>(), TooLarge: true);

        if (missing is null || missing.Count == 0 || prompt.MissingVariables != MissingVariablePolicy.Error)
            return new BuiltMessages(messages, Array.Empty<string>());
        var distinct = missing.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        return new BuiltMessages(messages, distinct);
    }
}
