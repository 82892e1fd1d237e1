using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;

namespace PromptActors.Models;

/// <summary>
/// Logs one record per model call through Microsoft.Extensions.Logging: start (debug), then completion (duration,
/// time to first update, update count, usage), cancellation or failure. It never logs message contents, options,
/// headers or exception objects (whose inner provider exceptions may echo request details): only the exception's
/// type and message, which <see cref="ResilientChatClient"/> has already redacted.
/// </summary>
public sealed partial class ModelCallLoggingChatClient : DelegatingChatClient
{
    private readonly ILogger _logger;
    private readonly string _modelId;
    private readonly TimeProvider _time;

    public ModelCallLoggingChatClient(IChatClient innerClient, ILogger logger, string modelId, TimeProvider? time = null)
        : base(innerClient)
    {
        _logger = logger;
        _modelId = modelId;
        _time = time ?? TimeProvider.System;
    }

    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages,
        ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var started = _time.GetTimestamp();
        LogStarted(_logger, _modelId, streaming: false);
        try
        {
            var response = await base.GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false);
            var ms = _time.GetElapsedTime(started).TotalMilliseconds;
            LogCompleted(_logger, _modelId, ms, null, 1, response.Usage?.InputTokenCount, response.Usage?.OutputTokenCount);
            return response;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            LogCancelled(_logger, _modelId, _time.GetElapsedTime(started).TotalMilliseconds, 0);
            throw;
        }
        catch (Exception ex)
        {
            LogFailed(_logger, _modelId, _time.GetElapsedTime(started).TotalMilliseconds, 0, ex.GetType().Name, ex.Message);
            throw;
        }
    }

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages,
        ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var started = _time.GetTimestamp();
        LogStarted(_logger, _modelId, streaming: true);
        double? firstUpdateMs = null;
        var updates = 0;
        UsageDetails? usage = null;
        IAsyncEnumerator<ChatResponseUpdate>? stream = null;
        try
        {
            stream = base.GetStreamingResponseAsync(messages, options, cancellationToken).GetAsyncEnumerator(cancellationToken);
            while (true)
            {
                bool more;
                try
                {
                    more = await stream.MoveNextAsync().ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    LogCancelled(_logger, _modelId, _time.GetElapsedTime(started).TotalMilliseconds, updates);
                    throw;
                }
                catch (Exception ex)
                {
                    LogFailed(_logger, _modelId, _time.GetElapsedTime(started).TotalMilliseconds, updates, ex.GetType().Name, ex.Message);
                    throw;
                }

                if (!more)
                    break;
                updates++;
                firstUpdateMs ??= _time.GetElapsedTime(started).TotalMilliseconds;
                foreach (var content in stream.Current.Contents)
                {
                    if (content is UsageContent u)
                        usage = u.Details;
                }
                yield return stream.Current;
            }
        }
        finally
        {
            if (stream is not null)
                await stream.DisposeAsync().ConfigureAwait(false);
        }

        LogCompleted(_logger, _modelId, _time.GetElapsedTime(started).TotalMilliseconds, firstUpdateMs, updates,
            usage?.InputTokenCount, usage?.OutputTokenCount);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Model {ModelId}: call started (streaming: {Streaming})")]
    private static partial void LogStarted(ILogger logger, string modelId, bool streaming);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Model {ModelId}: completed in {DurationMs:F0} ms (first update after {FirstUpdateMs:F0} ms, {Updates} updates, input tokens {InputTokens}, output tokens {OutputTokens})")]
    private static partial void LogCompleted(ILogger logger, string modelId, double durationMs, double? firstUpdateMs,
        int updates, long? inputTokens, long? outputTokens);

    [LoggerMessage(Level = LogLevel.Information, Message = "Model {ModelId}: cancelled after {DurationMs:F0} ms and {Updates} updates")]
    private static partial void LogCancelled(ILogger logger, string modelId, double durationMs, int updates);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Model {ModelId}: failed after {DurationMs:F0} ms and {Updates} updates: {ErrorType}: {Error}")]
    private static partial void LogFailed(ILogger logger, string modelId, double durationMs, int updates, string errorType, string error);
}
