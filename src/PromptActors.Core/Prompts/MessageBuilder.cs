using Microsoft.Extensions.AI;
using PromptActors.Instances;
using PromptActors.Models;
using PromptActors.Variables;

namespace PromptActors.Prompts;

/// <summary>The messages sent to the model for one turn, or the names of the variables that had no value.</summary>
public sealed record BuiltMessages(IReadOnlyList<ChatMessage> Messages, IReadOnlyList<string> Missing)
{
    public bool Ok => Missing.Count == 0;
}

/// <summary>
/// Builds the chat for a turn: the prompt's template messages, then the conversation so far, then the new user input.
/// Variables are replaced (single pass) in template and user messages when <c>applyVariables</c> is on; assistant
/// replies are sent verbatim, so a model that wrote <c>{{x}}</c> cannot make the next turn fail or pull a variable in.
/// </summary>
public static class MessageBuilder
{
    public static BuiltMessages Build(
        Prompt prompt,
        IReadOnlyList<ConversationMessage> conversation,
        string? newUserInput,
        MergedVariables variables,
        bool applyVariables)
    {
        var messages = new List<ChatMessage>(prompt.Messages.Count + conversation.Count + 1);
        List<string>? missing = applyVariables ? new List<string>() : null;

        string Render(string text) =>
            applyVariables ? VariableResolver.Render(text, variables, prompt.MissingVariables, missing) : text;

        foreach (var m in prompt.Messages)
            messages.Add(new ChatMessage(ChatOptionsMapper.ToChatRole(m.Role), Render(m.Content)));
        foreach (var m in conversation)
        {
            var text = m.Role == MessageRole.Assistant ? m.Content : Render(m.Content);
            messages.Add(new ChatMessage(ChatOptionsMapper.ToChatRole(m.Role), text));
        }
        if (newUserInput is not null)
            messages.Add(new ChatMessage(ChatRole.User, Render(newUserInput)));

        if (missing is null || missing.Count == 0 || prompt.MissingVariables != MissingVariablePolicy.Error)
            return new BuiltMessages(messages, Array.Empty<string>());
        var distinct = missing.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        return new BuiltMessages(messages, distinct);
    }
}
