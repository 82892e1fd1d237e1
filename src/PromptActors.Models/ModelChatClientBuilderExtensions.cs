using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace PromptActors.Models;

/// <summary>Adds the engine's model middleware to a Microsoft.Extensions.AI <see cref="ChatClientBuilder"/> pipeline.
/// The first <c>Use…</c> call is the outermost layer.</summary>
public static class ModelChatClientBuilderExtensions
{
    /// <summary>Retries transient errors raised before the first update (<see cref="ResilientChatClient"/>).</summary>
    public static ChatClientBuilder UseProviderResilience(this ChatClientBuilder builder, ChatResilienceOptions? options = null,
        TimeProvider? time = null, ILoggerFactory? loggerFactory = null) =>
        builder.Use(inner => new ResilientChatClient(inner, options, time,
            (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<ResilientChatClient>()));

    /// <summary>Fails a call whose provider produces nothing for <paramref name="timeout"/> (<see cref="IdleTimeoutChatClient"/>).</summary>
    public static ChatClientBuilder UseIdleTimeout(this ChatClientBuilder builder, TimeSpan timeout, TimeProvider? time = null,
        string? modelId = null) =>
        builder.Use(inner => new IdleTimeoutChatClient(inner, timeout, time, modelId));

    /// <summary>Logs one record per call, without contents or secrets (<see cref="ModelCallLoggingChatClient"/>).</summary>
    public static ChatClientBuilder UseModelCallLogging(this ChatClientBuilder builder, ILoggerFactory loggerFactory, string modelId,
        TimeProvider? time = null) =>
        builder.Use(inner => new ModelCallLoggingChatClient(inner, loggerFactory.CreateLogger<ModelCallLoggingChatClient>(), modelId, time));

    /// <summary>Fails a stream that ends without a finish reason (<see cref="RequireFinishReasonChatClient"/>).</summary>
    public static ChatClientBuilder UseRequireFinishReason(this ChatClientBuilder builder, string modelId) =>
        builder.Use(inner => new RequireFinishReasonChatClient(inner, modelId));
}
