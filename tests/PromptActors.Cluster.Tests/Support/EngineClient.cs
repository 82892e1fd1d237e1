using System.Net;
using System.Net.Http.Json;
using System.Net.ServerSentEvents;
using System.Text.Json;

namespace PromptActors.Cluster.Tests.Support;

/// <summary>The outcome of one SSE reply stream: the text streamed and its terminal event.</summary>
public sealed record StreamOutcome(string? TaskId, string Text, string Terminal, string? Code, string? Detail, int Chunks, string? ServedBy)
{
    public bool Completed => Terminal == "completed";
}

/// <summary>The engine answered with an error (problem+json with a <c>code</c>).</summary>
public sealed class EngineHttpException(HttpStatusCode status, string? code, string body)
    : Exception($"HTTP {(int)status} {code}: {body}")
{
    public HttpStatusCode Status { get; } = status;
    public string? Code { get; } = code;
}

/// <summary>A small client of the engine's HTTP API (auth off: scopes are sent in the body).</summary>
public sealed class EngineClient : IDisposable
{
    public const string NodeHeader = "X-PromptActors-Node";

    private readonly HttpClient _http = new(new SocketsHttpHandler
    {
        ConnectTimeout = TimeSpan.FromSeconds(3),
        PooledConnectionIdleTimeout = TimeSpan.FromSeconds(5),
    })
    {
        Timeout = TimeSpan.FromSeconds(60),
    };

    /// <summary>A key sent with every request (a cluster with auth on); null: none (auth off).</summary>
    public string? BearerKey
    {
        set => _http.DefaultRequestHeaders.Authorization = value is null ? null : new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", value);
    }

    public async Task<JsonElement?> TryGetJsonAsync(HostNode node, string path)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            using var response = await _http.GetAsync(new Uri(node.BaseUri, path), timeout.Token);
            if (!response.IsSuccessStatusCode)
                return null;
            return await response.Content.ReadFromJsonAsync<JsonElement>(timeout.Token);
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or JsonException)
        {
            return null;
        }
    }

    public async Task<(JsonElement Body, HttpResponseMessage Response)> SendAsync(HostNode node, HttpMethod method, string path,
        object? body = null, CancellationToken ct = default)
    {
        using var request = new HttpRequestMessage(method, new Uri(node.BaseUri, path));
        if (body is not null)
            request.Content = JsonContent.Create(body, options: ClusterFixture.Json);
        var response = await _http.SendAsync(request, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        if (!response.IsSuccessStatusCode)
        {
            string? code = null;
            try
            {
                code = JsonDocument.Parse(text).RootElement.GetProperty("code").GetString();
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
            {
            }
            response.Dispose();
            throw new EngineHttpException(response.StatusCode, code, text);
        }
        var json = text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
        return (json, response);
    }

    public async Task<JsonElement> JsonAsync(HostNode node, HttpMethod method, string path, object? body = null, CancellationToken ct = default)
    {
        var (json, response) = await SendAsync(node, method, path, body, ct);
        response.Dispose();
        return json;
    }

    public Task<JsonElement> SavePromptAsync(HostNode node, string id, string system, CancellationToken ct = default) =>
        JsonAsync(node, HttpMethod.Put, $"/v1/prompts/{id}", new
        {
            name = id,
            messages = new[] { new { role = "system", content = system } },
            variableDefaults = new[] { new { name = "org_name", defaultValue = "nobody" } },
            settings = new { model = "local" },
        }, ct);

    public Task<JsonElement> StartInstanceAsync(HostNode node, string promptId, string userId = "u1", bool retain = true,
        bool autoRun = false, string? orgId = null, bool allowChat = true, CancellationToken ct = default) =>
        JsonAsync(node, HttpMethod.Post, "/v1/instances", new
        {
            promptId,
            scope = new { userId, orgId },
            executionConfig = new { autoRun, allowChat, showVariables = true, applyVariables = true, trackInRuns = true },
            retain,
        }, ct);

    public Task<JsonElement> GetInstanceAsync(HostNode node, string id, CancellationToken ct = default) =>
        JsonAsync(node, HttpMethod.Get, $"/v1/instances/{id}", null, ct);

    /// <summary>POST a message with <c>?stream=true</c> and read the SSE reply to its terminal event.</summary>
    public async Task<StreamOutcome> SendStreamingAsync(HostNode node, string id, string text, CancellationToken ct = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(node.BaseUri, $"/v1/instances/{id}/messages?stream=true"))
        {
            Content = JsonContent.Create(new { userInput = text }),
        };
        return await ReadSseAsync(request, ct);
    }

    /// <summary>GET the instance's reply stream (from chunk <paramref name="from"/>) and read it to its terminal event.</summary>
    public async Task<StreamOutcome> SubscribeAsync(HostNode node, string id, long from = 0, CancellationToken ct = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(node.BaseUri, $"/v1/instances/{id}/stream?from={from}"));
        return await ReadSseAsync(request, ct);
    }

    private async Task<StreamOutcome> ReadSseAsync(HttpRequestMessage request, CancellationToken ct)
    {
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        if (!response.IsSuccessStatusCode)
        {
            var body = await response.Content.ReadAsStringAsync(ct);
            string? code = null;
            try
            {
                code = JsonDocument.Parse(body).RootElement.GetProperty("code").GetString();
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
            {
            }
            throw new EngineHttpException(response.StatusCode, code, body);
        }
        var servedBy = response.Headers.TryGetValues(NodeHeader, out var values) ? values.FirstOrDefault() : null;
        await using var stream = await response.Content.ReadAsStreamAsync(ct);
        string? taskId = null;
        var text = new System.Text.StringBuilder();
        var chunks = 0;
        await foreach (var item in SseParser.Create(stream).EnumerateAsync(ct))
        {
            var data = JsonDocument.Parse(item.Data).RootElement;
            if (data.TryGetProperty("taskId", out var t) && t.ValueKind == JsonValueKind.String)
                taskId = t.GetString();
            switch (item.EventType)
            {
                case "chunk":
                    chunks++;
                    text.Append(data.GetProperty("text").GetString());
                    break;
                case "completed":
                    return new StreamOutcome(taskId, data.GetProperty("text").GetString()!, "completed", null, null, chunks, servedBy);
                case "error":
                    return new StreamOutcome(taskId, text.ToString(), "error", data.GetProperty("code").GetString(),
                        data.TryGetProperty("detail", out var d) ? d.GetString() : null, chunks, servedBy);
            }
        }
        return new StreamOutcome(taskId, text.ToString(), "eof", null, "the stream ended without a terminal event", chunks, servedBy);
    }

    public void Dispose() => _http.Dispose();
}
