using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace PromptActors.Models.Tests.Support;

/// <summary>Token counts the fake server reports in its final chunk.</summary>
public sealed record FakeUsage(int PromptTokens, int CompletionTokens, int CachedTokens = 0);

/// <summary>What the fake server does with one request.</summary>
public sealed record Reply
{
    /// <summary>HTTP status; anything but 200 answers with an OpenAI-style JSON error body.</summary>
    public int Status { get; init; } = 200;

    /// <summary>The error message in a non-200 body.</summary>
    public string ErrorMessage { get; init; } = "scripted failure";

    /// <summary>The Retry-After header of a non-200 answer.</summary>
    public string? RetryAfter { get; init; }

    /// <summary>The text deltas, one chunk each.</summary>
    public IReadOnlyList<string> Chunks { get; init; } = [];

    /// <summary>The final usage chunk; null sends none.</summary>
    public FakeUsage? Usage { get; init; }

    /// <summary>After this many chunks, wait for <see cref="Hold"/> before going on (lets a test see chunks arrive one
    /// by one, or make sure the client has read them before the connection is dropped).</summary>
    public int? HoldAfter { get; init; }

    public Task? Hold { get; init; }

    /// <summary>Abort the connection after this many chunks.</summary>
    public int? DropAfter { get; init; }

    /// <summary>End the response cleanly after this many chunks: no finish reason, no [DONE] (a proxy that closed early).</summary>
    public int? EndAfter { get; init; }

    /// <summary>Send a malformed SSE data line after this many chunks.</summary>
    public int? MalformedAfter { get; init; }

    /// <summary>Stop sending after this many chunks and wait until the client goes away (-1: before the headers).</summary>
    public int? StallAfter { get; init; }

    /// <summary>Tool calls streamed after the text, their arguments in the given pieces, interleaved across calls.</summary>
    public IReadOnlyList<FakeToolCall>? ToolCalls { get; init; }

    public static Reply Text(params string[] chunks) => new() { Chunks = chunks };
    public static Reply Fail(int status, string? retryAfter = null, string message = "scripted failure") =>
        new() { Status = status, RetryAfter = retryAfter, ErrorMessage = message };
}

/// <summary>One request the fake server received.</summary>
/// <summary>A streamed tool call: its id, name and the pieces its JSON arguments arrive in.</summary>
public sealed record FakeToolCall(string Id, string Name, params string[] ArgumentPieces);

public sealed class RecordedRequest
{
    private readonly TaskCompletionSource _aborted = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public required string Path { get; init; }
    public required JsonObject Body { get; init; }
    public required IReadOnlyDictionary<string, string> Headers { get; init; }

    /// <summary>Completes when the server observes <see cref="HttpContext.RequestAborted"/> (the client went away).</summary>
    public Task Aborted => _aborted.Task;

    internal void MarkAborted() => _aborted.TrySetResult();

    public string? Header(string name) => Headers.TryGetValue(name, out var v) ? v : null;
}

/// <summary>
/// A small OpenAI-compatible server on 127.0.0.1 (Kestrel minimal API) serving <c>POST /v1/chat/completions</c> with
/// <c>stream: true</c> as SSE. Each request takes the next scripted <see cref="Reply"/> (the last one repeats) and
/// is recorded.
/// </summary>
public sealed class FakeOpenAIServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<Reply> _script = new();
    private readonly ConcurrentQueue<RecordedRequest> _requests = new();
    private readonly TaskCompletionSource _firstRequest = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Reply _last = Reply.Text("Hello", " world");

    private FakeOpenAIServer(WebApplication app) => _app = app;

    public Uri BaseUrl { get; private set; } = null!;

    /// <summary>The endpoint as configuration writes it: <c>http://127.0.0.1:PORT/v1</c>.</summary>
    public string Endpoint => BaseUrl.ToString().TrimEnd('/');

    public IReadOnlyList<RecordedRequest> Requests => _requests.ToArray();

    /// <summary>Completes when the first request has been received and recorded.</summary>
    public Task FirstRequestReceived => _firstRequest.Task;

    public static async Task<FakeOpenAIServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var server = new FakeOpenAIServer(app);
        app.MapPost("/v1/chat/completions", server.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!
            .Addresses.Single();
        server.BaseUrl = new Uri(address.TrimEnd('/') + "/v1/");
        return server;
    }

    /// <summary>Queues replies for the next requests; the last one also answers every request after them.</summary>
    public FakeOpenAIServer Script(params Reply[] replies)
    {
        foreach (var r in replies)
            _script.Enqueue(r);
        return this;
    }

    private Reply Next()
    {
        if (_script.TryDequeue(out var reply))
        {
            _last = reply;
            return reply;
        }
        return _last;
    }

    private async Task HandleAsync(HttpContext ctx)
    {
        var body = (JsonObject)(await JsonNode.ParseAsync(ctx.Request.Body, cancellationToken: ctx.RequestAborted))!;
        var record = new RecordedRequest
        {
            Path = ctx.Request.Path,
            Body = body,
            Headers = ctx.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase),
        };
        ctx.RequestAborted.Register(record.MarkAborted);
        _requests.Enqueue(record);
        _firstRequest.TrySetResult();
        var reply = Next();
        var model = body["model"]?.GetValue<string>() ?? "unknown";

        if (reply.StallAfter == -1)
        {
            await StallAsync(ctx);
            return;
        }

        if (reply.Status != 200)
        {
            ctx.Response.StatusCode = reply.Status;
            if (reply.RetryAfter is not null)
                ctx.Response.Headers.RetryAfter = reply.RetryAfter;
            await ctx.Response.WriteAsJsonAsync(new { error = new { message = reply.ErrorMessage, type = "scripted", code = (string?)null } });
            return;
        }

        if (body["stream"]?.GetValue<bool>() != true)
        {
            var completion = new JsonObject
            {
                ["id"] = "chatcmpl-fake",
                ["object"] = "chat.completion",
                ["created"] = 1_700_000_000,
                ["model"] = model,
                ["choices"] = new JsonArray(new JsonObject
                {
                    ["index"] = 0,
                    ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = string.Concat(reply.Chunks) },
                    ["finish_reason"] = "stop",
                }),
            };
            if (reply.Usage is { } cu)
                completion["usage"] = UsageJson(cu);
            ctx.Response.ContentType = "application/json";
            await ctx.Response.WriteAsync(completion.ToJsonString(), ctx.RequestAborted);
            return;
        }

        ctx.Response.ContentType = "text/event-stream";
        ctx.Response.Headers.CacheControl = "no-cache";
        await ctx.Response.StartAsync(ctx.RequestAborted);
        for (var i = 0; i <= reply.Chunks.Count; i++)
        {
            if (reply.HoldAfter == i && reply.Hold is { } hold)
            {
                try
                {
                    await hold.WaitAsync(ctx.RequestAborted);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
            if (reply.DropAfter == i)
            {
                await ctx.Response.Body.FlushAsync();
                ctx.Abort();
                return;
            }
            if (reply.EndAfter == i)
            {
                await ctx.Response.Body.FlushAsync();
                return;
            }
            if (reply.MalformedAfter == i)
                await SendAsync(ctx, "data: {\"id\":\"chatcmpl-fake\",\"choices\":[{\"delta\": this is not json\n\n");
            if (reply.StallAfter == i)
            {
                await StallAsync(ctx);
                return;
            }
            if (i == reply.Chunks.Count)
                break;
            var delta = i == 0
                ? new JsonObject { ["role"] = "assistant", ["content"] = reply.Chunks[i] }
                : new JsonObject { ["content"] = reply.Chunks[i] };
            await SendChunkAsync(ctx, model, new JsonArray(new JsonObject { ["index"] = 0, ["delta"] = delta, ["finish_reason"] = null }));
        }

        if (reply.ToolCalls is { Count: > 0 } calls)
        {
            // Each call opens with its id and name, then its arguments arrive piece by piece, the calls' pieces interleaved.
            for (var c = 0; c < calls.Count; c++)
                await SendToolDeltaAsync(ctx, model, c, new JsonObject
                {
                    ["index"] = c, ["id"] = calls[c].Id, ["type"] = "function",
                    ["function"] = new JsonObject { ["name"] = calls[c].Name, ["arguments"] = "" },
                });
            for (var piece = 0; piece < calls.Max(c => c.ArgumentPieces.Length); piece++)
            {
                for (var c = 0; c < calls.Count; c++)
                {
                    if (piece < calls[c].ArgumentPieces.Length)
                        await SendToolDeltaAsync(ctx, model, c, new JsonObject
                        {
                            ["index"] = c, ["function"] = new JsonObject { ["arguments"] = calls[c].ArgumentPieces[piece] },
                        });
                }
            }
        }
        await SendChunkAsync(ctx, model, new JsonArray(new JsonObject
        {
            ["index"] = 0, ["delta"] = new JsonObject(), ["finish_reason"] = reply.ToolCalls is { Count: > 0 } ? "tool_calls" : "stop",
        }));
        if (reply.Usage is { } u)
        {
            await SendChunkAsync(ctx, model, [], UsageJson(u));
        }
        await SendAsync(ctx, "data: [DONE]\n\n");
    }

    private static Task SendToolDeltaAsync(HttpContext ctx, string model, int index, JsonObject toolCall) =>
        SendChunkAsync(ctx, model, new JsonArray(new JsonObject
        {
            ["index"] = 0, ["delta"] = new JsonObject { ["tool_calls"] = new JsonArray(toolCall) }, ["finish_reason"] = null,
        }));

    private static JsonObject UsageJson(FakeUsage u) => new()
    {
        ["prompt_tokens"] = u.PromptTokens,
        ["completion_tokens"] = u.CompletionTokens,
        ["total_tokens"] = u.PromptTokens + u.CompletionTokens,
        ["prompt_tokens_details"] = new JsonObject { ["cached_tokens"] = u.CachedTokens },
    };

    private static async Task StallAsync(HttpContext ctx)
    {
        try
        {
            await Task.Delay(Timeout.Infinite, ctx.RequestAborted);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static Task SendChunkAsync(HttpContext ctx, string model, JsonArray choices, JsonObject? usage = null)
    {
        var chunk = new JsonObject
        {
            ["id"] = "chatcmpl-fake",
            ["object"] = "chat.completion.chunk",
            ["created"] = 1_700_000_000,
            ["model"] = model,
            ["choices"] = choices,
        };
        if (usage is not null)
            chunk["usage"] = usage;
        return SendAsync(ctx, "data: " + chunk.ToJsonString() + "\n\n");
    }

    private static async Task SendAsync(HttpContext ctx, string text)
    {
        await ctx.Response.WriteAsync(text, ctx.RequestAborted);
        await ctx.Response.Body.FlushAsync(ctx.RequestAborted);
    }

    public async ValueTask DisposeAsync()
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            await _app.StopAsync(stop.Token);
        }
        catch (OperationCanceledException)
        {
        }
        await _app.DisposeAsync();
    }
}
