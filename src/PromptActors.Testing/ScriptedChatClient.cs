using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using PromptActors.Models;

namespace PromptActors.Testing;

/// <summary>One scripted model reply.</summary>
public sealed record ScriptedReply
{
    /// <summary>The text pieces streamed, in order.</summary>
    public IReadOnlyList<string> Chunks { get; init; } = ["ok"];

    /// <summary>Pause before each chunk, measured with the client's <see cref="TimeProvider"/>.</summary>
    public TimeSpan ChunkDelay { get; init; }

    /// <summary>Awaited before the first chunk (e.g. a <c>TaskCompletionSource</c> the test completes), cancellable.</summary>
    public Task? Gate { get; init; }

    /// <summary>Thrown before any chunk (a provider that refuses the call).</summary>
    public Exception? FailBeforeFirstChunk { get; init; }

    /// <summary>Thrown after this many chunks (a stream that breaks midway), together with <see cref="FailWith"/>.</summary>
    public int? FailAfterChunks { get; init; }

    public Exception? FailWith { get; init; }

    /// <summary>Awaited before chunk i is streamed (after <see cref="Gate"/>): lets a test release chunks one by one.</summary>
    public Func<int, CancellationToken, Task>? BeforeChunk { get; init; }

    /// <summary>After this many chunks the stream goes quiet until it is cancelled (a model that stalls mid-reply).</summary>
    public int? StallAfterChunks { get; init; }

    /// <summary>Usage reported in the last update; null reports none (the engine then estimates).</summary>
    public TokenUsage? Usage { get; init; } = new(10, 5);

    /// <summary>Tool calls the model asks for after its chunks (the turn goes on with their results).</summary>
    public IReadOnlyList<FunctionCallContent>? ToolCalls { get; init; }

    public static ScriptedReply Text(params string[] chunks) => new() { Chunks = chunks };

    /// <summary>A reply that only asks for tools, e.g. <c>Calls(("call_1", "lookup_order", "{\"orderId\":\"A-1\"}"))</c>.</summary>
    public static ScriptedReply Calls(params (string CallId, string Name, string ArgumentsJson)[] calls) => new()
    {
        Chunks = [],
        ToolCalls = calls.Select(c => FunctionCallContent.CreateFromParsedArguments(c.ArgumentsJson, c.CallId, c.Name,
            json => System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, object?>>(json))).ToArray(),
    };
}

/// <summary>
/// A scripted <see cref="IChatClient"/> for tests of prompt flows: canned replies (chunked, delayed, failing) in order,
/// then a fallback; records every request so a test can assert what the model was sent.
/// </summary>
public sealed class ScriptedChatClient(TimeProvider? time = null) : IChatClient
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly ConcurrentQueue<ScriptedReply> _script = new();
    private readonly ConcurrentQueue<IReadOnlyList<ChatMessage>> _requests = new();
    private readonly ConcurrentQueue<ChatOptions?> _options = new();
    private int _cancellations;

    /// <summary>Used when the script is empty.</summary>
    public ScriptedReply Fallback { get; set; } = ScriptedReply.Text("ok");

    /// <summary>Every request received, in order.</summary>
    public IReadOnlyList<IReadOnlyList<ChatMessage>> Requests => _requests.ToArray();

    /// <summary>The options of every request received, in order (a copy of each).</summary>
    public IReadOnlyList<ChatOptions?> Options => _options.ToArray();

    /// <summary>How many streams ended because the caller cancelled them.</summary>
    public int Cancellations => Volatile.Read(ref _cancellations);

    public ScriptedChatClient Enqueue(params ScriptedReply[] replies)
    {
        foreach (var r in replies)
            _script.Enqueue(r);
        return this;
    }

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        CancellationToken cancellationToken = default) =>
        await GetStreamingResponseAsync(messages, options, cancellationToken).ToChatResponseAsync(cancellationToken);

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages,
        ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        _options.Enqueue(options?.Clone());
        _requests.Enqueue(messages.Select(m => m.Clone()).ToArray());
        var reply = _script.TryDequeue(out var next) ? next : Fallback;
        using var registration = cancellationToken.Register(() => Interlocked.Increment(ref _cancellations));

        if (reply.Gate is { } gate)
            await gate.WaitAsync(cancellationToken);
        if (reply.FailBeforeFirstChunk is { } refuse)
            throw refuse;
        for (var i = 0; i < reply.Chunks.Count; i++)
        {
            if (reply.StallAfterChunks == i)
                await Task.Delay(Timeout.Infinite, cancellationToken);
            if (reply.FailAfterChunks == i)
                throw reply.FailWith ?? new InvalidOperationException("the scripted stream broke");
            if (reply.ChunkDelay > TimeSpan.Zero)
                await Task.Delay(reply.ChunkDelay, _time, cancellationToken);
            if (reply.BeforeChunk is { } before)
                await before(i, cancellationToken);
            cancellationToken.ThrowIfCancellationRequested();
            yield return new ChatResponseUpdate(ChatRole.Assistant, reply.Chunks[i]);
        }
        if (reply.FailAfterChunks is { } n && n >= reply.Chunks.Count)
            throw reply.FailWith ?? new InvalidOperationException("the scripted stream broke");
        if (reply.ToolCalls is { Count: > 0 } calls)
            yield return new ChatResponseUpdate { Role = ChatRole.Assistant, FinishReason = ChatFinishReason.ToolCalls, Contents = [.. calls] };
        if (reply.Usage is { } usage)
        {
            yield return new ChatResponseUpdate
            {
                Role = ChatRole.Assistant,
                Contents = [new UsageContent(new UsageDetails
                {
                    InputTokenCount = usage.InputTokens,
                    OutputTokenCount = usage.OutputTokens,
                    CachedInputTokenCount = usage.CachedInputTokens,
                    TotalTokenCount = usage.TotalTokens,
                })],
            };
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is null && serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose()
    {
    }
}
