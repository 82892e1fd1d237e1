using System.Diagnostics;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using PromptActors.Bench.Infrastructure;
using PromptActors.Engine;
using PromptActors.Host;
using PromptActors.Instances;
using PromptActors.Models;

namespace PromptActors.Bench.Scenarios;

/// <summary>
/// The path users call: T clients over HTTP against the real host (Kestrel, PostgreSQL, the local model with 60-word
/// replies), each sending <c>POST /v1/instances/{id}/messages?stream=true</c> and reading the SSE reply to
/// <c>completed</c>; beside it a minimal ASP.NET Core endpoint in the same process that streams the same model over SSE
/// and writes the hand-written loop's rows (<see cref="HandWrittenStore"/>: two transactions per turn). Clients, servers
/// and PostgreSQL share the machine's cores, alike for both. At T = 1 also the host's engine called in process, for what
/// the HTTP layer adds to TTFT.
/// </summary>
public static class HttpScenario
{
    public static async Task<ScenarioResult> RunAsync(BenchOptions o)
    {
        int[] levels = o.Overrides.ContainsKey("clients") ? [o.Size("clients", 10, 2)] : o.Smoke ? [1, 4] : [1, 10, 100];
        var m = o.Size("turns", 10, 3);
        var minTurns = o.Size("min-turns", 1000, 8);
        var result = new ScenarioResult("http");
        o.Log($"http: T = {string.Join(", ", levels)} clients × {m} turns (at least {minTurns} per level), 60-word replies, PostgreSQL fsync on");

        await using var pg = await BenchPostgres.StartAsync(o);
        var (engineDb, storage) = await pg.CreateStorageAsync();
        await storage.DisposeAsync(); // the host opens its own (the database is migrated already)
        await using var host = await StartHostAsync(pg.ConnectionString(engineDb));
        var (baseDb, baseStorage) = await pg.CreateStorageAsync();
        await using var baseStorageLease = baseStorage;
        await using var hand = await HandWrittenStore.CreateAsync(pg.ConnectionString(baseDb));
        var model = EngineHost.CreateModel(new LocalModelOptions { ReplyWords = 60 });
        await using var minimal = await StartMinimalAsync(hand, model);
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1000, PooledConnectionLifetime = TimeSpan.FromMinutes(10) })
            { Timeout = TimeSpan.FromSeconds(60) };
        (await http.PutAsJsonAsync(new Uri(host.Address, $"v1/prompts/{EngineHost.PromptId}"), new
        {
            name = "Benchmark chat",
            messages = new[] { new { role = "system", content = EngineHost.Prompt.Messages[0].Content } },
            variableDefaults = EngineHost.Prompt.VariableDefaults!.Select(v => new { name = v.Name, defaultValue = v.DefaultValue }),
            settings = new { model = "local", temperature = 1, maxTokens = 4096 },
        })).EnsureSuccessStatusCode();
        await HostPhaseAsync(o, pg, engineDb, http, host.Address, 4, 2, m); // warm-up, not reported
        await MinimalPhaseAsync(pg, baseDb, http, minimal.Address, 4, 2, m);
        // Then --warmup-turns turns (1,000) one client at a time on each side, as `durable` does: the side measured first
        // would otherwise pay for the JIT's tiering of the code both share (the local model, Kestrel, Npgsql).
        var warm = Math.Max(m, o.Size("warmup-turns", 1000, 8));
        o.Log($"warm-up: {warm} turns each, not reported …");
        await HostPhaseAsync(o, pg, engineDb, http, host.Address, 1, warm, m);
        await MinimalPhaseAsync(pg, baseDb, http, minimal.Address, 1, warm, m);

        var table = result.Table($"T HTTP clients × {m} turns over SSE, 60-word replies, PostgreSQL {pg.Version} (fsync on)",
            ["metric", .. levels.SelectMany(t => new[] { $"host T={t}", $"minimal T={t}" })]);
        var rows = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        void Cell(string metric, string value)
        {
            if (!rows.TryGetValue(metric, out var list))
                rows[metric] = list = new List<string>();
            list.Add(value);
        }
        foreach (var t in levels)
        {
            var turns = Math.Max(m, (int)Math.Ceiling(minTurns / (double)t));
            o.Log($"T={t}: host …");
            var e = await HostPhaseAsync(o, pg, engineDb, http, host.Address, t, turns, m);
            o.Log($"T={t}: host {e.TurnsPerSecond:0} turns/s, errors {e.Stats.ErrorSummary()}; minimal endpoint …");
            var b = await MinimalPhaseAsync(pg, baseDb, http, minimal.Address, t, turns, m);
            o.Log($"T={t}: minimal {b.TurnsPerSecond:0} turns/s, errors {b.Stats.ErrorSummary()}");
            Cell("turns/s", Fmt.N0(e.TurnsPerSecond));
            Cell("turns/s", Fmt.N0(b.TurnsPerSecond));
            Cell("host / minimal", Fmt.Pct(e.TurnsPerSecond / b.TurnsPerSecond));
            Cell("host / minimal", "");
            foreach (var p in new[] { e, b })
            {
                Cell("TTFT p50 / p99", $"{Fmt.Ms(p.Stats.Ttft.P50)} / {Fmt.Ms(p.Stats.Ttft.P99)}");
                Cell("total p50 / p99", $"{Fmt.Ms(p.Stats.Total.P50)} / {Fmt.Ms(p.Stats.Total.P99)}");
                Cell("CPU ms/turn, this process (clients + server)", Fmt.N2(p.Process.CpuMs / p.Turns));
                Cell("CPU ms/turn, PostgreSQL", Fmt.N2(p.Pg.CpuMs / p.Turns));
                Cell("turns (errors)", $"{p.Turns} ({p.Stats.Errors})");
            }
            result.Figure($"T{t}.host.turns_per_s", e.TurnsPerSecond);
            result.Figure($"T{t}.minimal.turns_per_s", b.TurnsPerSecond);
            result.Figure($"T{t}.ratio", e.TurnsPerSecond / b.TurnsPerSecond);
            result.Figure($"T{t}.host.errors", e.Stats.Errors);
            result.Figure($"T{t}.minimal.errors", b.Stats.Errors);
            if (t == 1)
            {
                // The same host's engine, called in process (no HTTP, no SSE): what the HTTP layer adds to TTFT.
                var inProcess = await InProcessAsync(host, turns, m);
                var added = e.Stats.Ttft.P50 - inProcess.Ttft.P50;
                result.Notes.Add($"T = 1, the host's engine called in process: TTFT p50 {Fmt.Ms(inProcess.Ttft.P50)}, p99 " +
                                 $"{Fmt.Ms(inProcess.Ttft.P99)}; over HTTP + SSE {Fmt.Ms(e.Stats.Ttft.P50)}: the HTTP layer adds " +
                                 $"{Fmt.Ms(added)} at p50 (target ≤ 0.3 ms).");
                result.Figure("T1.http_added_ttft_p50_ms", added);
            }
        }
        foreach (var (metric, cells) in rows)
            table.Row([metric, .. cells]);
        result.Notes.Add("TTFT: from sending the request to reading the first `chunk` event (host) or the first `data:` line of " +
                         "a chunk (minimal); total: to the `completed` event. Each client sends its turns one after another on " +
                         "conversations of 10 turns (instances started over HTTP before the clock starts), as `durable` does.");
        result.Notes.Add("Minimal endpoint: `POST /turn/{id}` — the hand-written loop's transaction 1 (journal row, run row, " +
                         "task row), the local model streamed as SSE, transaction 2 (journal row, final task row, run totals).");
        return result;
    }

    private sealed record Server(WebApplication App, Uri Address) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await App.StopAsync();
            await App.DisposeAsync();
        }
    }

    private static async Task<Server> StartHostAsync(string connectionString)
    {
        var app = HostApp.Build(["--urls", "http://127.0.0.1:0"], builder => builder.Configuration.AddInMemoryCollection(
            new Dictionary<string, string?>
            {
                ["PromptActors:Storage:Provider"] = "postgres",
                ["PromptActors:Storage:ConnectionString"] = connectionString,
                ["PromptActors:Auth:Enabled"] = "false",
                ["PromptActors:Examples:Load"] = "false",
                ["PromptActors:Models:local:ReplyWords"] = "60",
                ["Logging:LogLevel:Default"] = "Warning",
            }));
        await app.StartAsync();
        return new Server(app, Address(app));
    }

    private static async Task<Server> StartMinimalAsync(HandWrittenStore hand, IChatClient model)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var conversations = new System.Collections.Concurrent.ConcurrentDictionary<string, (HandWrittenStore.Conversation C, List<ChatMessage> M)>();
        app.MapPost("/turn/{id}", async (string id, HttpContext context) =>
        {
            var body = (await context.Request.ReadFromJsonAsync<TurnBody>(context.RequestAborted))!;
            var (conversation, messages) = conversations.GetOrAdd(id, key =>
                (new HandWrittenStore.Conversation(key), new List<ChatMessage> { new(ChatRole.System, EngineHost.RenderedSystemMessage()) }));
            if (conversation.Turns == 0 && conversation.Sequence == 0)
                await hand.StartAsync(conversation, DurableScenario.Started(conversation.PersistenceId));
            context.Response.ContentType = "text/event-stream";
            var start = Stopwatch.GetTimestamp();
            var taskId = Guid.NewGuid().ToString("N");
            await hand.BeginTurnAsync(conversation, new MessageSubmitted(taskId, conversation.Turns == 0 ? conversation.RunId : null,
                body.UserInput, LocalChatClient.ModelId, "local", DateTimeOffset.UtcNow));
            // The model's stream written as SSE as it comes (one event per chunk, flushed), as the host does.
            messages.Add(new ChatMessage(ChatRole.User, body.UserInput));
            var text = new System.Text.StringBuilder();
            UsageDetails? usage = null;
            var index = 0;
            var ttft = 0.0;
            await foreach (var update in model.GetStreamingResponseAsync(messages, Turns.ChatOptions, context.RequestAborted))
            {
                foreach (var content in update.Contents)
                    if (content is UsageContent u)
                        usage = u.Details;
                if (string.IsNullOrEmpty(update.Text))
                    continue;
                if (index == 0)
                    ttft = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                text.Append(update.Text);
                await context.Response.WriteAsync(
                    $"event: chunk\ndata: {System.Text.Json.JsonSerializer.Serialize(new { taskId, index = index++, text = update.Text })}\n\n");
                await context.Response.Body.FlushAsync();
            }
            var reply = text.ToString();
            messages.Add(new ChatMessage(ChatRole.Assistant, reply));
            var tokens = new TokenUsage(usage?.InputTokenCount ?? 0, usage?.OutputTokenCount ?? 0);
            await hand.EndTurnAsync(conversation, new ExecutionCompleted(taskId, reply, tokens, HandWrittenStore.Cost(tokens),
                ttft, Stopwatch.GetElapsedTime(start).TotalMilliseconds, DateTimeOffset.UtcNow));
            await context.Response.WriteAsync($"event: completed\ndata: {System.Text.Json.JsonSerializer.Serialize(new { taskId, text = reply })}\n\n");
        });
        await app.StartAsync();
        return new Server(app, Address(app));
    }

    private sealed record TurnBody(string UserInput);

    private static Uri Address(WebApplication app) =>
        new(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/");

    private sealed record Phase(TurnStats Stats, double Seconds, ProcessDelta Process, PgDelta Pg, int Turns)
    {
        public double TurnsPerSecond => Stats.Ok / Seconds;
    }

    /// <summary>Each client's turns, in conversations of <paramref name="m"/> turns (a new instance every m turns).</summary>
    private static async Task<Phase> HostPhaseAsync(BenchOptions o, BenchPostgres pg, string db, HttpClient http, Uri host, int t, int turns,
        int m)
    {
        var perClient = (turns + m - 1) / m;
        var ids = new string[t * perClient];
        await Turns.ForEachAsync(ids.Length, 32, async (i, ct) =>
        {
            var response = await http.PostAsJsonAsync(new Uri(host, "v1/instances"), new
            {
                promptId = EngineHost.PromptId,
                scope = new { userId = EngineHost.Scope.UserId, orgId = EngineHost.Scope.OrgId, projectId = EngineHost.Scope.ProjectId },
                executionConfig = new { allowChat = true, showVariables = false },
            }, ct);
            response.EnsureSuccessStatusCode();
            ids[i] = (await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>(ct)).GetProperty("instanceId").GetString()!;
        });
        return await MeasureAsync(pg, db, t, turns, (w, turn) =>
            SseTurnAsync(http, new Uri(host, $"v1/instances/{ids[w * perClient + turn / m]}/messages?stream=true"), EngineHost.UserInput(turn % m)));
    }

    private static Task<Phase> MinimalPhaseAsync(BenchPostgres pg, string db, HttpClient http, Uri minimal, int t, int turns, int m)
    {
        var perClient = (turns + m - 1) / m;
        var ids = Enumerable.Range(0, t * perClient).Select(_ => Guid.NewGuid().ToString("N")).ToArray();
        return MeasureAsync(pg, db, t, turns, (w, turn) =>
            SseTurnAsync(http, new Uri(minimal, $"turn/{ids[w * perClient + turn / m]}"), EngineHost.UserInput(turn % m)));
    }

    private static async Task<Phase> MeasureAsync(BenchPostgres pg, string db, int t, int turns, Func<int, int, Task<TurnResult>> turn)
    {
        var stats = new TurnStats();
        var pg0 = await pg.SampleAsync(db);
        var p0 = ProcessSample.Take();
        var clock = Stopwatch.StartNew();
        await Turns.WorkersAsync(t, async w =>
        {
            for (var i = 0; i < turns; i++)
                stats.Add(await turn(w, i));
        });
        var seconds = clock.Elapsed.TotalSeconds;
        return new Phase(stats, seconds, ProcessSample.Take().Since(p0), (await pg.SampleAsync(db)).Since(pg0), t * turns);
    }

    /// <summary>One turn over HTTP: POST, then read the SSE body to its <c>completed</c> event.</summary>
    private static async Task<TurnResult> SseTurnAsync(HttpClient http, Uri uri, string input)
    {
        var start = Stopwatch.GetTimestamp();
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = JsonContent.Create(new { userInput = input }) };
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            if (!response.IsSuccessStatusCode)
                return TurnResult.Failed(start, "http_" + (int)response.StatusCode);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            var ttft = double.NaN;
            var chunks = 0;
            string? eventName = null;
            while (await reader.ReadLineAsync() is { } line)
            {
                if (line.StartsWith("event: ", StringComparison.Ordinal))
                    eventName = line[7..];
                else if (line.StartsWith("data:", StringComparison.Ordinal))
                {
                    switch (eventName)
                    {
                        case "chunk":
                            if (chunks++ == 0)
                                ttft = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                            break;
                        case "completed":
                            return new TurnResult(true, ttft, Stopwatch.GetElapsedTime(start).TotalMilliseconds, chunks, null);
                        case "failed" or "error":
                            return TurnResult.Failed(start, "sse_" + eventName);
                    }
                }
            }
            return TurnResult.Failed(start, "stream_ended");
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or TaskCanceledException)
        {
            return TurnResult.Failed(start, ex.GetType().Name);
        }
    }

    private static async Task<LatencyPair> InProcessAsync(Server host, int turns, int m)
    {
        var engine = host.App.Services.GetRequiredService<IPromptExecutionEngine>();
        var stats = new TurnStats();
        var instanceId = "";
        for (var i = 0; i < turns; i++)
        {
            if (i % m == 0)
                instanceId = (await engine.StartInstanceAsync(new StartInstanceRequest(EngineHost.PromptId, EngineHost.Scope,
                    ExecutionConfig: new ExecutionConfig(AllowChat: true, ShowVariables: false)))).InstanceId;
            stats.Add(await Turns.EngineAsync(engine, instanceId, EngineHost.UserInput(i % m)));
        }
        return new LatencyPair(stats.Ttft);
    }

    private sealed record LatencyPair(LatencyRecorder Ttft);
}
