using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace PromptActors.Models;

/// <summary>Options of the built-in <c>local</c> model.</summary>
public sealed record LocalModelOptions
{
    /// <summary>Pause before each word; zero streams as fast as the consumer reads.</summary>
    public TimeSpan WordDelay { get; init; } = TimeSpan.Zero;

    /// <summary>When set, every reply has exactly this many words (the input's words repeated); otherwise the reply echoes the input.</summary>
    public int? ReplyWords { get; init; }
}

/// <summary>
/// The built-in model: no network, deterministic. It replies with the words of the last user message (or of the last
/// message when there is no user message), streamed word by word, and reports usage counted with the o200k tokenizer.
/// Asked for JSON it answers with a JSON document: a valid instance of the schema, built from those words (<see cref="LocalJson"/>).
/// Offered tools, it calls them by the rules of <see cref="LocalTools"/>, and answers with their results.
/// </summary>
public sealed class LocalChatClient(LocalModelOptions? options = null, TimeProvider? time = null) : IChatClient
{
    public const string ModelId = "local";
    private const string Fallback = "Hello from the local model.";

    private readonly LocalModelOptions _options = options ?? new LocalModelOptions();
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    /// <summary>The reply the model gives to these messages (what streaming yields, joined).</summary>
    public string ReplyFor(IEnumerable<ChatMessage> messages, ChatOptions? chatOptions = null) =>
        string.Join(' ', ReplyWords(messages.ToList(), chatOptions));

    private IReadOnlyList<string> ReplyWords(IReadOnlyList<ChatMessage> messages, ChatOptions? chatOptions)
    {
        var source = messages.LastOrDefault(m => m.Role == ChatRole.User) ?? messages.LastOrDefault();
        var text = (chatOptions?.Tools is { Count: > 0 } ? LocalTools.Answer(messages) : null)
                   ?? Describe(source) ?? source?.Text ?? string.Empty;
        var words = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (words.Length == 0)
            words = Fallback.Split(' ');
        // JSON asked for: the whole document, in chunks split at its spaces (joined with one space it is the same text).
        if (chatOptions?.ResponseFormat is ChatResponseFormatJson json)
            return LocalJson.For(json.Schema, string.Join(' ', words)).Split(' ');
        var count = _options.ReplyWords ?? words.Length;
        if (chatOptions?.MaxOutputTokens is { } max)
            count = Math.Min(count, max);
        var reply = new string[count];
        for (var i = 0; i < count; i++)
            reply[i] = words[i % words.Length];
        return reply;
    }

    /// <summary>
    /// The message's contents in order, each image and file described (kind, name, media type, size, or the URL), so a
    /// reply shows what reached the model; null when it carries no image or file.
    /// </summary>
    private static string? Describe(ChatMessage? message)
    {
        if (message is null || !message.Contents.Any(c => c is DataContent or UriContent))
            return null;
        var described = new List<string>();
        foreach (var content in message.Contents)
        {
            switch (content)
            {
                case TextContent { Text.Length: > 0 } t:
                    described.Add(t.Text);
                    break;
                case DataContent d:
                    var kind = d.HasTopLevelMediaType("image") ? "image" : "file";
                    described.Add($"[{kind}: {(d.Name is { Length: > 0 } name ? name + ", " : "")}{d.MediaType}, {d.Data.Length} bytes]");
                    break;
                case UriContent u:
                    described.Add($"[image: {u.Uri}]");
                    break;
            }
        }
        return string.Join(' ', described);
    }

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        CancellationToken cancellationToken = default) =>
        await GetStreamingResponseAsync(messages, options, cancellationToken).ToChatResponseAsync(cancellationToken);

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages,
        ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var list = messages as IReadOnlyList<ChatMessage> ?? messages.ToList();
        var responseId = Guid.NewGuid().ToString("N");
        var calls = LocalTools.Calls(list, options);
        var input = 0;
        var estimated = 0; // of images and files, which the tokenizer cannot count
        foreach (var m in list)
        {
            input += UsageEstimator.CountMessage(m, TokenCounter.O200k);
            estimated += UsageEstimator.EstimateParts(m);
        }
        AdditionalPropertiesDictionary<long>? counts = estimated > 0 ? new() { [UsageEstimator.EstimatedCount] = estimated } : null;
        if (calls.Count > 0)
        {
            await Task.Yield();
            cancellationToken.ThrowIfCancellationRequested();
            var argumentTokens = calls.Sum(c => TokenCounter.Count(c.Name) + (c.Arguments?.Count ?? 0) * 2 + 2);
            yield return new ChatResponseUpdate
            {
                Role = ChatRole.Assistant,
                ResponseId = responseId,
                ModelId = ModelId,
                FinishReason = ChatFinishReason.ToolCalls,
                Contents = [.. calls, new UsageContent(new UsageDetails
                {
                    InputTokenCount = input,
                    OutputTokenCount = argumentTokens,
                    TotalTokenCount = input + argumentTokens,
                    AdditionalCounts = counts,
                })],
            };
            yield break;
        }
        var words = ReplyWords(list, options);
        // A reply repeats the input's words: each distinct chunk text (" word") is built once, not once per chunk.
        var spaced = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < words.Count; i++)
        {
            if (_options.WordDelay > TimeSpan.Zero)
                await Task.Delay(_options.WordDelay, _time, cancellationToken);
            else if ((i & 255) == 255)
                await Task.Yield();
            cancellationToken.ThrowIfCancellationRequested();
            string text;
            if (i == 0)
                text = words[i];
            else if (!spaced.TryGetValue(words[i], out text!))
                spaced[words[i]] = text = " " + words[i];
            yield return new ChatResponseUpdate(ChatRole.Assistant, text) { ResponseId = responseId, ModelId = ModelId };
        }

        var outputTokens = TokenCounter.Count(string.Join(' ', words));
        yield return new ChatResponseUpdate
        {
            Role = ChatRole.Assistant,
            ResponseId = responseId,
            ModelId = ModelId,
            FinishReason = ChatFinishReason.Stop,
            Contents = [new UsageContent(new UsageDetails
            {
                InputTokenCount = input,
                OutputTokenCount = outputTokens,
                TotalTokenCount = input + outputTokens,
                AdditionalCounts = counts,
            })],
        };
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is null && serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose()
    {
    }
}
