using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Polly;
using Polly.Retry;

namespace PromptActors.Models;

/// <summary>Retry settings of <see cref="ResilientChatClient"/>.</summary>
public sealed record ChatResilienceOptions
{
    /// <summary>Retries after the first attempt (0 disables retrying).</summary>
    public int MaxRetries { get; init; } = ModelOptions.DefaultMaxRetries;

    /// <summary>Median delay of the first retry; exponential backoff with jitter after that.</summary>
    public TimeSpan BaseDelay { get; init; } = ModelOptions.DefaultRetryDelay;

    /// <summary>Cap of a computed backoff delay.</summary>
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The longest <c>Retry-After</c> honoured; a provider asking for more fails at once instead.</summary>
    public TimeSpan MaxRetryAfter { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The model id named in error messages and logs.</summary>
    public string ModelId { get; init; } = "model";

    /// <summary>Applied to every provider detail that goes into a message or a log (removes the API key).</summary>
    public Func<string, string>? Redact { get; init; }
}

/// <summary>
/// Retries transient provider errors (HTTP 408/429/5xx honouring <c>Retry-After</c>, connection failures) raised
/// BEFORE the first streamed update, with exponential backoff and jitter (Polly), timed by the
/// <see cref="TimeProvider"/>. Once an update has been yielded nothing is retried: the failure propagates so the
/// engine keeps the partial text. Cancellation, idle timeouts and non-transient errors (400, 401, 404…) are never
/// retried. Failures come out as <see cref="ModelProviderException"/> with a one-line message; cancellation as
/// <see cref="OperationCanceledException"/>; idle timeouts as <see cref="TimeoutException"/>.
/// </summary>
public sealed partial class ResilientChatClient : DelegatingChatClient
{
    private readonly ChatResilienceOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ResiliencePipeline _pipeline;

    public ResilientChatClient(IChatClient innerClient, ChatResilienceOptions? options = null, TimeProvider? time = null,
        ILogger? logger = null) : base(innerClient)
    {
        _options = options ?? new ChatResilienceOptions();
        ArgumentOutOfRangeException.ThrowIfNegative(_options.MaxRetries);
        _time = time ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
        _pipeline = _options.MaxRetries == 0 ? ResiliencePipeline.Empty : new ResiliencePipelineBuilder { TimeProvider = _time }
            .AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = _options.MaxRetries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = _options.BaseDelay,
                MaxDelay = _options.MaxDelay,
                ShouldHandle = args => ValueTask.FromResult(args.Outcome.Exception is { } ex && ShouldRetry(ex)),
                DelayGenerator = args => ValueTask.FromResult(
                    args.Outcome.Exception is { } ex ? ProviderErrors.RetryAfter(ex, _time) : null),
                OnRetry = args =>
                {
                    if (args.Outcome.Exception is { } ex)
                        LogRetry(_logger, _options.ModelId, args.AttemptNumber + 1, Reason(ex), args.RetryDelay);
                    return ValueTask.CompletedTask;
                },
            })
            .Build();
    }

    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages,
        ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var attempts = 0;
        try
        {
            return await _pipeline.ExecuteAsync(async token =>
            {
                attempts++;
                return await base.GetResponseAsync(messages, options, token).ConfigureAwait(false);
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not (OperationCanceledException or TimeoutException or ModelProviderException))
        {
            throw Describe(ex, attempts, updates: 0);
        }
    }

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages,
        ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var attempts = 0;
        IAsyncEnumerator<ChatResponseUpdate> stream;
        bool more;
        try
        {
            // Each attempt opens the stream and waits for its first update: only this part is retried.
            (stream, more) = await _pipeline.ExecuteAsync(async token =>
            {
                attempts++;
                var e = base.GetStreamingResponseAsync(messages, options, token).GetAsyncEnumerator(token);
                try
                {
                    return (e, await e.MoveNextAsync().ConfigureAwait(false));
                }
                catch
                {
                    await e.DisposeAsync().ConfigureAwait(false);
                    throw;
                }
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not (OperationCanceledException or TimeoutException or ModelProviderException))
        {
            throw Describe(ex, attempts, updates: 0);
        }

        await using (stream.ConfigureAwait(false))
        {
            var updates = 0;
            while (more)
            {
                updates++;
                yield return stream.Current;
                try
                {
                    more = await stream.MoveNextAsync().ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not (OperationCanceledException or TimeoutException or ModelProviderException))
                {
                    throw Describe(ex, attempts, updates);
                }
            }
        }
    }

    private bool ShouldRetry(Exception ex)
    {
        if (!ProviderErrors.IsTransient(ex))
            return false;
        return ProviderErrors.RetryAfter(ex, _time) is not { } after || after <= _options.MaxRetryAfter;
    }

    private string Reason(Exception ex) =>
        ProviderErrors.StatusOf(ex) is { } status ? ProviderErrors.StatusText(status) : Redact(ProviderErrors.Detail(ex));

    private string Redact(string text) => _options.Redact is { } redact ? redact(text) : text;

    private ModelProviderException Describe(Exception ex, int attempts, int updates)
    {
        var model = $"model '{_options.ModelId}'";
        var detail = Redact(ProviderErrors.Detail(ex));
        var status = ProviderErrors.StatusOf(ex);
        var transient = ProviderErrors.IsTransient(ex);
        var tries = Plural(attempts, "attempt");
        string message;
        if (updates > 0)
        {
            message = ProviderErrors.IsMalformed(ex)
                ? $"{model}: the provider sent a malformed stream after {Plural(updates, "update")}: {detail}"
                : $"{model}: the stream broke after {Plural(updates, "update")} (not retried once output has streamed): {detail}";
        }
        else if (status is { } s)
        {
            var statusText = ProviderErrors.StatusText(s);
            if (!ProviderErrors.IsTransientStatus(s))
                message = $"{model}: provider returned {statusText} (not retried): {detail}";
            else if (ProviderErrors.RetryAfter(ex, _time) is { } after && after > _options.MaxRetryAfter)
                message = $"{model}: provider returned {statusText} asking to retry after {after}, longer than the {_options.MaxRetryAfter} we wait: {detail}";
            else
                message = $"{model}: provider returned {statusText} after {tries}: {detail}";
        }
        else if (ProviderErrors.IsConnectionFailure(ex))
            message = $"{model}: provider unreachable after {tries}: {detail}";
        else if (ProviderErrors.IsMalformed(ex))
            message = $"{model}: the provider sent a malformed stream: {detail}";
        else
            message = $"{model}: provider call failed after {tries}: {ex.GetType().Name}: {detail}";

        return new ModelProviderException(message, ex)
        {
            StatusCode = status,
            Attempts = attempts,
            UpdatesReceived = updates,
            Transient = transient,
        };
    }

    private static string Plural(int n, string noun) => n == 1 ? $"1 {noun}" : $"{n} {noun}s";

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Model {ModelId}: attempt {Attempt} failed ({Reason}); retrying in {Delay}")]
    private static partial void LogRetry(ILogger logger, string modelId, int attempt, string reason, TimeSpan delay);
}
