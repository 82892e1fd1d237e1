using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace PromptActors.Models;

/// <summary>
/// Fails a stream that ends without a finish reason. OpenAI-compatible servers end every complete reply with one
/// (<c>stop</c>, <c>length</c>, …); a connection closed early can reach the client as a clean end of the response,
/// which would otherwise record a truncated reply as completed.
/// </summary>
public sealed class RequireFinishReasonChatClient(IChatClient inner, string modelId) : DelegatingChatClient(inner)
{
    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages,
        ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var finished = false;
        var updates = 0;
        await foreach (var update in base.GetStreamingResponseAsync(messages, options, cancellationToken))
        {
            finished |= update.FinishReason is not null;
            updates++;
            yield return update;
        }
        if (!finished)
            throw new ModelProviderException(
                $"model '{modelId}': the stream ended after {updates} updates without a finish reason (the connection was closed early)")
            {
                UpdatesReceived = updates,
            };
    }
}
