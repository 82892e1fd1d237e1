using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace PromptActors.Models;

/// <summary>
/// Fails a call whose provider produces nothing for longer than <see cref="Timeout"/>: the request is cancelled
/// towards the provider (its HTTP stream is closed) and the call throws a <see cref="TimeoutException"/>
/// ("the model produced nothing for 00:00:30") instead of hanging. The clock runs only while waiting for the
/// provider, not while the consumer holds an update, so a slow consumer is not mistaken for a stalled model.
/// A non-streaming call counts as one update: it must complete within the timeout.
/// </summary>
public sealed class IdleTimeoutChatClient : DelegatingChatClient
{
    private readonly TimeProvider _time;
    private readonly string? _modelId;

    public IdleTimeoutChatClient(IChatClient innerClient, TimeSpan timeout, TimeProvider? time = null, string? modelId = null)
        : base(innerClient)
    {
        if (timeout <= TimeSpan.Zero && timeout != System.Threading.Timeout.InfiniteTimeSpan)
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "The idle timeout must be positive.");
        Timeout = timeout;
        _time = time ?? TimeProvider.System;
        _modelId = modelId;
    }

    public TimeSpan Timeout { get; }

    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages,
        ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        using var idle = new CancellationTokenSource(Timeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, idle.Token);
        try
        {
            return await base.GetResponseAsync(messages, options, linked.Token).ConfigureAwait(false);
        }
        catch (Exception) when (idle.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw TimedOut();
        }
    }

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages,
        ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var idle = new CancellationTokenSource(System.Threading.Timeout.InfiniteTimeSpan, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, idle.Token);
        var stream = base.GetStreamingResponseAsync(messages, options, linked.Token).GetAsyncEnumerator(linked.Token);
        await using (stream.ConfigureAwait(false))
        {
            while (true)
            {
                idle.CancelAfter(Timeout);
                bool more;
                try
                {
                    more = await stream.MoveNextAsync().ConfigureAwait(false);
                }
                catch (Exception) when (idle.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                {
                    throw TimedOut();
                }

                // The provider answered: stop the clock while the consumer handles the update.
                idle.CancelAfter(System.Threading.Timeout.InfiniteTimeSpan);
                if (!more)
                    yield break;
                yield return stream.Current;
            }
        }
    }

    // No inner exception: it would only be the cancellation this client caused, and callers that report
    // GetBaseException().Message would show "A task was canceled." instead of this message.
    private TimeoutException TimedOut() =>
        new($"{(_modelId is null ? "the model" : $"model '{_modelId}'")} produced nothing for {Timeout:c}");
}
