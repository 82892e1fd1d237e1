using System.ClientModel;
using System.ClientModel.Primitives;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using OpenAI;

namespace PromptActors.Models;

/// <summary>Building one model entry of a validated plan: the local model, or the OpenAI-compatible client and its pipeline.</summary>
public static partial class ModelRegistryFactory
{
    private static ModelEntry Build(Plan plan, TimeProvider time, ILoggerFactory loggerFactory, ILogger log)
    {
        var o = plan.Options;
        var pricing = o.Pricing;
        if (plan.Provider == ModelProviders.Local)
        {
            IChatClient local = new LocalChatClient(new LocalModelOptions { WordDelay = o.WordDelay ?? TimeSpan.Zero, ReplyWords = o.ReplyWords }, time);
            if (loggerFactory != NullLoggerFactory.Instance)
                local = new ChatClientBuilder(local).UseModelCallLogging(loggerFactory, plan.Id, time).Build();
            LogLocalModel(log, plan.Id, o.WordDelay ?? TimeSpan.Zero, o.ReplyWords);
            return new ModelEntry(plan.Id, ModelProviders.Local, local, pricing, TokenCounter.O200k);
        }

        var idle = o.IdleTimeout ?? ModelOptions.DefaultIdleTimeout;
        var clientOptions = new OpenAIClientOptions
        {
            // Retries belong to ResilientChatClient, which knows whether anything has streamed yet.
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
            // The idle timeout is the real limit; the transport's must not fire first with a vaguer error.
            NetworkTimeout = idle + TimeSpan.FromMinutes(1),
        };
        if (plan.Endpoint is not null)
            clientOptions.Endpoint = plan.Endpoint;
        var headers = o.Headers ?? [];
        if (headers.Count > 0)
            clientOptions.AddPolicy(new DefaultHeadersPolicy(new Dictionary<string, string>(headers, StringComparer.OrdinalIgnoreCase)),
                PipelinePosition.PerCall);

        if (plan.ApiKey is null)
            clientOptions.AddPolicy(new RemoveAuthorizationPolicy(), PipelinePosition.BeforeTransport);
        var openAI = new OpenAIClient(new ApiKeyCredential(plan.ApiKey ?? RemoveAuthorizationPolicy.Placeholder), clientOptions);
        var provider = openAI.GetChatClient(plan.Model).AsIChatClient();

        var secret = plan.ApiKey;
        var resilience = new ChatResilienceOptions
        {
            ModelId = plan.Id,
            MaxRetries = o.MaxRetries ?? ModelOptions.DefaultMaxRetries,
            BaseDelay = o.RetryDelay ?? ModelOptions.DefaultRetryDelay,
            Redact = secret is null ? null : text => text.Replace(secret, "[redacted]", StringComparison.Ordinal),
        };
        var providerModel = plan.Model;
        var client = new ChatClientBuilder(provider)
            .UseModelCallLogging(loggerFactory, plan.Id, time)
            .UseProviderResilience(resilience, time, loggerFactory)
            .UseIdleTimeout(idle, time, plan.Id)
            .UseRequireFinishReason(plan.Id)
            // Prompts name the registry id; the provider wants its own model name.
            .ConfigureOptions(options =>
            {
                options.ModelId = providerModel;
                OpenAIPassThrough.Apply(options);
            })
            .Build();

        LogOpenAIModel(log, plan.Id, SafeEndpoint(plan.Endpoint ?? ModelOptions.OpenAIEndpoint), plan.Model,
            plan.ApiKeyEnv ?? "(none)", string.Join(", ", headers.Keys), idle, resilience.MaxRetries);
        return new ModelEntry(plan.Id, ModelProviders.OpenAI, client, pricing, TokenCounter.O200k);
    }

    /// <summary>Scheme, host, port and path only: no query string or user info in logs.</summary>
    private static string SafeEndpoint(Uri endpoint) => endpoint.GetLeftPart(UriPartial.Path);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Model {ModelId}: OpenAI-compatible endpoint {Endpoint} as '{ProviderModel}', key from environment variable {ApiKeyEnv}, default headers [{HeaderNames}], idle timeout {IdleTimeout}, {MaxRetries} retries")]
    private static partial void LogOpenAIModel(ILogger logger, string modelId, string endpoint, string providerModel,
        string apiKeyEnv, string headerNames, TimeSpan idleTimeout, int maxRetries);

    [LoggerMessage(Level = LogLevel.Information,
        Message = "Model {ModelId}: built-in local model (word delay {WordDelay}, reply words {ReplyWords})")]
    private static partial void LogLocalModel(ILogger logger, string modelId, TimeSpan wordDelay, int? replyWords);
}
