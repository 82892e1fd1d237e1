using System.Diagnostics;
using Microsoft.Extensions.AI;
using PromptActors.Engine;
using PromptActors.Instances;
using PromptActors.Models;
using PromptActors.Streaming;

namespace PromptActors.Bench.Infrastructure;

/// <summary>One measured turn: time to first token and total time (ms), chunks seen, the error code when it failed.</summary>
public readonly record struct TurnResult(bool Ok, double TtftMs, double TotalMs, int Chunks, string? Error, string Text = "")
{
    public static TurnResult Failed(long start, string error) =>
        new(false, double.NaN, Stopwatch.GetElapsedTime(start).TotalMilliseconds, 0, error);
}

/// <summary>Latencies and errors of many turns.</summary>
public sealed class TurnStats
{
    private long _errors;
    private long _ok;
    private long _chunks;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, int> _errorCodes = new(StringComparer.Ordinal);

    public LatencyRecorder Ttft { get; } = new();
    public LatencyRecorder Total { get; } = new();
    public long Ok => Interlocked.Read(ref _ok);
    public long Errors => Interlocked.Read(ref _errors);
    public long Chunks => Interlocked.Read(ref _chunks);

    public void Add(TurnResult r)
    {
        if (r.Ok)
        {
            Interlocked.Increment(ref _ok);
            Interlocked.Add(ref _chunks, r.Chunks);
            if (double.IsFinite(r.TtftMs))
                Ttft.Add(r.TtftMs);
            Total.Add(r.TotalMs);
            return;
        }
        Interlocked.Increment(ref _errors);
        lock (_gate)
            _errorCodes[r.Error ?? "unknown"] = _errorCodes.GetValueOrDefault(r.Error ?? "unknown") + 1;
    }

    public string ErrorSummary()
    {
        lock (_gate)
            return _errorCodes.Count == 0 ? "none" : string.Join(", ", _errorCodes.Select(kv => $"{kv.Key} × {kv.Value}"));
    }
}

public static class Turns
{
    /// <summary>
    /// How <see cref="EngineAsync"/> sends: false (the default) with ExecuteMessageStreamAsync, the message and the
    /// subscription in one call to the instance, as the HTTP host's <c>?stream=true</c> does; true (<c>--two-calls</c>) with
    /// ExecuteMessageAsync and then StreamAsync, two round trips to the instance (what the bench did until 2026-12-03).
    /// </summary>
    public static bool TwoCalls { get; set; }

    /// <summary>
    /// One turn through the engine until the terminal event (see <see cref="TwoCalls"/>). TTFT is the time from the send to
    /// the first ReplyChunk read.
    /// </summary>
    public static async Task<TurnResult> EngineAsync(IPromptExecutionEngine engine, string instanceId, string input,
        CancellationToken cancellationToken = default)
    {
        var start = Stopwatch.GetTimestamp();
        try
        {
            MessageAccepted accepted;
            IAsyncEnumerable<ReplyEvent> events;
            if (TwoCalls)
            {
                accepted = await engine.ExecuteMessageAsync(instanceId, input, cancellationToken);
                events = engine.StreamAsync(instanceId, 0, cancellationToken);
            }
            else
            {
                var sent = await engine.ExecuteMessageStreamAsync(instanceId, input, cancellationToken);
                (accepted, events) = (sent.Accepted, sent.Events);
            }
            var ttft = double.NaN;
            var chunks = 0;
            await foreach (var e in events)
            {
                switch (e)
                {
                    case ReplyChunk:
                        if (chunks++ == 0)
                            ttft = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                        break;
                    case ReplyCompleted done when done.TaskId == accepted.TaskId:
                        return new TurnResult(true, ttft, Stopwatch.GetElapsedTime(start).TotalMilliseconds, chunks, null);
                    case ReplyCompleted done:
                        return TurnResult.Failed(start, "wrong_task");
                    case ReplyFailed failed:
                        return TurnResult.Failed(start, failed.Code);
                }
            }
            return TurnResult.Failed(start, "stream_ended");
        }
        catch (PromptActorsException ex)
        {
            return TurnResult.Failed(start, ex.Code);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return TurnResult.Failed(start, ex.GetType().Name);
        }
    }

    /// <summary>The options the engine sends for the benchmark prompt (same mapper).</summary>
    public static ChatOptions ChatOptions { get; } = ChatOptionsMapper.ToChatOptions(EngineHost.Prompt.Settings!, LocalChatClient.ModelId);

    /// <summary>
    /// One turn of the hand-written baseline: the same IChatClient called directly. TTFT is the time from the call to the
    /// first update that carries text. <paramref name="messages"/> gets the user input and the reply appended, as the
    /// engine's conversation does.
    /// </summary>
    public static async Task<(TurnResult Result, UsageDetails? Usage)> DirectAsync(IChatClient client, List<ChatMessage> messages,
        string input, Action<int, string>? onChunk = null, CancellationToken cancellationToken = default)
    {
        var start = Stopwatch.GetTimestamp();
        messages.Add(new ChatMessage(ChatRole.User, input));
        var ttft = double.NaN;
        var chunks = 0;
        UsageDetails? usage = null;
        var text = new System.Text.StringBuilder();
        try
        {
            await foreach (var update in client.GetStreamingResponseAsync(messages, ChatOptions, cancellationToken))
            {
                foreach (var content in update.Contents)
                {
                    if (content is UsageContent u)
                        usage = u.Details;
                }
                var piece = update.Text;
                if (string.IsNullOrEmpty(piece))
                    continue;
                if (chunks == 0)
                    ttft = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                onChunk?.Invoke(chunks, piece);
                chunks++;
                text.Append(piece);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            messages.RemoveAt(messages.Count - 1);
            return (TurnResult.Failed(start, ex.GetType().Name), null);
        }
        var reply = text.ToString();
        messages.Add(new ChatMessage(ChatRole.Assistant, reply));
        return (new TurnResult(true, ttft, Stopwatch.GetElapsedTime(start).TotalMilliseconds, chunks, null, reply), usage);
    }

    /// <summary>Runs <paramref name="count"/> workers at once (released together) and waits for all of them.</summary>
    public static async Task WorkersAsync(int count, Func<int, Task> body)
    {
        var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var tasks = new Task[count];
        for (var i = 0; i < count; i++)
        {
            var worker = i;
            tasks[i] = Task.Run(async () =>
            {
                await go.Task;
                await body(worker);
            });
        }
        go.SetResult();
        await Task.WhenAll(tasks);
    }

    /// <summary>Runs <paramref name="body"/> for every item with at most <paramref name="parallelism"/> in flight.</summary>
    public static Task ForEachAsync(int count, int parallelism, Func<int, CancellationToken, ValueTask> body) =>
        Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = parallelism }, body);
}
