using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using PromptActors.Telemetry;
using PromptActors.TestSupport;

namespace PromptActors.Host.Tests;

/// <summary>
/// Two hosts in one Akka cluster (two actor systems over Akka.Remote on loopback, one PostgreSQL database), with
/// OpenTelemetry's in-memory exporters: a message sent to one node for an instance the other node owns is one trace across
/// both, and the token-usage metric adds up to the tokens in <c>ai_tasks</c>.
/// </summary>
public sealed class ClusterTraceTests : IAsyncLifetime
{
    // A model of its own, so the metric points of this test are told apart from the other hosts in this process.
    private const string Model = "traced-cluster-local";
    private const string Secret = "SECRET-CLUSTER-TRACE";
    private PostgresServer _postgres = null!;
    private string _connection = null!;
    private readonly List<WebApplication> _nodes = new();
    private readonly List<Uri> _addresses = new();
    private readonly List<string> _akka = new();
    private readonly SpanLog _spans = new();
    private readonly List<MetricSnapshot> _metrics = new();
    private TracerProvider _tracer = null!;
    private MeterProvider _meter = null!;

    public async Task InitializeAsync()
    {
        _tracer = Sdk.CreateTracerProviderBuilder().AddSource([.. PromptActorsTelemetry.SourceNames]).AddAspNetCoreInstrumentation()
            .AddInMemoryExporter(_spans).Build()!;
        _meter = Sdk.CreateMeterProviderBuilder().AddMeter(PromptActorsTelemetry.MeterName).AddInMemoryExporter(_metrics).Build()!;
        _postgres = await PostgresServer.StartAsync();
        _connection = await _postgres.CreateDatabaseAsync();
        var ports = new[] { FreePort(), FreePort() };
        _akka.AddRange(ports.Select(p => $"akka.tcp://prompt-actors@127.0.0.1:{p}"));
        foreach (var port in ports)
        {
            var settings = new Dictionary<string, string?>
            {
                ["PromptActors:Cluster:Enabled"] = "true",
                ["PromptActors:Cluster:Hostname"] = "127.0.0.1",
                ["PromptActors:Cluster:Port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["PromptActors:Cluster:SeedNodes:0"] = _akka[0],
                ["PromptActors:Cluster:SeedNodes:1"] = _akka[1],
                ["PromptActors:Cluster:StableAfter"] = "00:00:02",
                ["PromptActors:Storage:Provider"] = "postgres",
                ["PromptActors:Storage:ConnectionString"] = _connection,
                ["PromptActors:Auth:Enabled"] = "false",
                ["PromptActors:Examples:Load"] = "false",
                [$"PromptActors:Models:{Model}:Provider"] = "local",
                [$"PromptActors:Models:{Model}:InputPerMillion"] = "1",
                [$"PromptActors:Models:{Model}:OutputPerMillion"] = "2",
                ["Logging:LogLevel:Default"] = "Warning",
            };
            var app = HostApp.Build(["--urls", "http://127.0.0.1:0"], builder => builder.Configuration.AddInMemoryCollection(settings));
            await app.StartAsync();
            _nodes.Add(app);
            _addresses.Add(new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()));
        }
        await WaitForClusterAsync();
    }

    public async Task DisposeAsync()
    {
        foreach (var node in _nodes)
        {
            await node.StopAsync();
            await node.DisposeAsync();
        }
        _tracer.Dispose();
        _meter.Dispose();
        await _postgres.DisposeAsync();
    }

    [Fact]
    public async Task A_message_sent_to_one_node_for_an_instance_on_the_other_is_one_trace_and_the_token_metric_matches_ai_tasks()
    {
        var http = Client(0);
        Assert.Equal(HttpStatusCode.OK, (await http.PutJson("/v1/prompts/clustered", $$$"""
            {"name":"C","messages":[{"role":"system","content":"Be brief."}],"settings":{"model":"{{{Model}}}"}}
            """)).StatusCode);
        // Instances land on either node (by their shard); take the first one node 1 owns, started through node 0.
        string? instance = null;
        for (var i = 0; i < 40 && instance is null; i++)
        {
            var start = await http.PostJson("/v1/instances",
                $$$"""{"promptId":"clustered","scope":{"userId":"u1"},"instanceId":"ct-{{{i}}}","executionConfig":{"allowChat":true}}""");
            var view = await start.Json();
            Assert.Equal(HttpStatusCode.Created, start.StatusCode);
            if (view.GetProperty("node").GetString() == _akka[1])
                instance = view.GetProperty("instanceId").GetString();
        }
        Assert.NotNull(instance);

        for (var turn = 0; turn < 2; turn++)
        {
            var stream = await (await http.PostJson($"/v1/instances/{instance}/messages?stream=true",
                "{\"userInput\":\"" + Secret + " " + turn + "\"}")).Content.ReadAsStringAsync();
            Assert.Contains("event: completed", stream);
        }

        // The second turn's trace: its run-store write is the last span of the trace to end.
        var model = await Eventually(() => _spans.Snapshot().LastOrDefault(s => s.OperationName == "chat " + Model
            && (string?)s.GetTagItem("gen_ai.conversation.id") == instance));
        var store = await Eventually(() => _spans.Snapshot().FirstOrDefault(s => s.TraceId == model.TraceId
            && s.OperationName == "promptactors.run_store.write" && (string?)s.GetTagItem("promptactors.task.status") == "completed"));
        var spans = _spans.Snapshot().Where(s => s.TraceId == model.TraceId).ToArray();
        var server = Assert.Single(spans, s => s.Kind == ActivityKind.Server);
        var engine = Assert.Single(spans, s => s.OperationName == "promptactors.execute_message");
        var turnSpan = Assert.Single(spans, s => s.OperationName == "promptactors.turn");

        // The HTTP request and the engine command ran on node 0; the turn, the model call and the write on node 1.
        Assert.Equal(_addresses[0].Port, Convert.ToInt32(server.GetTagItem("server.port"), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(_akka[0], engine.GetTagItem(PromptActorsTelemetry.NodeTag));
        Assert.Equal(_akka[1], turnSpan.GetTagItem(PromptActorsTelemetry.NodeTag));
        Assert.Equal(server.SpanId, engine.ParentSpanId);
        Assert.Equal(engine.SpanId, turnSpan.ParentSpanId); // the trace context crossed the wire in the command
        Assert.Equal(turnSpan.SpanId, model.ParentSpanId);
        Assert.Equal(turnSpan.SpanId, store.ParentSpanId);
        Assert.Equal("chat", model.GetTagItem("gen_ai.operation.name"));
        Assert.Equal("local", model.GetTagItem("gen_ai.provider.name"));
        Assert.Equal(Model, model.GetTagItem("gen_ai.request.model"));
        Assert.Equal(Model, model.GetTagItem("gen_ai.response.model"));
        Assert.Equal(instance, model.GetTagItem("gen_ai.conversation.id"));
        Assert.Equal("clustered", model.GetTagItem("promptactors.prompt.id"));
        Assert.True((long)model.GetTagItem("gen_ai.usage.input_tokens")! > 0);
        Assert.True((long)model.GetTagItem("gen_ai.usage.output_tokens")! > 0);
        Assert.Equal(["stop"], (string[])model.GetTagItem("gen_ai.response.finish_reasons")!);
        foreach (var span in _spans.Snapshot())
        {
            Assert.DoesNotContain(span.TagObjects, t => t.Value?.ToString()?.Contains(Secret, StringComparison.Ordinal) == true);
            Assert.DoesNotContain(span.Events, e => e.Tags.Any(t => t.Value?.ToString()?.Contains(Secret, StringComparison.Ordinal) == true));
        }

        // The tokens the metric counted (both nodes' instruments, this model only) are the tokens in ai_tasks.
        var deadline = Stopwatch.StartNew();
        while (await ScalarAsync("SELECT COUNT(*) FROM ai_tasks WHERE status = 'completed'") < 2)
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(15), "the two task rows were not written");
            await Task.Delay(50);
        }
        var stored = await ScalarAsync("SELECT SUM(tokens_total) FROM ai_tasks");
        Assert.True(stored > 0);
        _meter.ForceFlush();
        var usage = Last("gen_ai.client.token.usage").Where(p => Tag(p, "gen_ai.request.model") == Model).ToArray();
        Assert.Equal(new[] { "input", "output" }, usage.Select(p => Tag(p, "gen_ai.token.type") ?? "").Order().ToArray());
        Assert.All(usage, p => Assert.Equal(2, p.GetHistogramCount()));
        Assert.Equal(stored, usage.Sum(p => (long)p.GetHistogramSum()));
        Assert.Equal(2, Last("gen_ai.client.operation.duration").Where(p => Tag(p, "gen_ai.request.model") == Model)
            .Sum(p => p.GetHistogramCount()));
        // The run-store writes went through the node's write queue (PostgreSQL batches them); its lag was recorded.
        Assert.True(Last("promptactors.run_store.queue.lag").Sum(p => p.GetHistogramCount()) >= 2);
    }

    private IEnumerable<MetricPoint> Last(string name)
    {
        lock (_metrics)
            return _metrics.LastOrDefault(m => m.Name == name)?.MetricPoints.ToArray() ?? [];
    }

    private static string? Tag(MetricPoint point, string key)
    {
        foreach (var tag in point.Tags)
            if (tag.Key == key)
                return tag.Value?.ToString();
        return null;
    }

    private async Task<long> ScalarAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(_connection);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private HttpClient Client(int node) => new() { BaseAddress = _addresses[node], Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>Both nodes see both members Up, each with its shard region.</summary>
    private async Task WaitForClusterAsync()
    {
        var deadline = Stopwatch.StartNew();
        var last = "";
        while (deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            var ready = true;
            for (var node = 0; node < _nodes.Count && ready; node++)
            {
                var view = JsonDocument.Parse(last = await Client(node).GetStringAsync("/clusterz")).RootElement;
                var up = view.GetProperty("members").EnumerateArray().Where(m => m.GetProperty("status").GetString() == "Up")
                    .Select(m => m.GetProperty("address").GetString()).ToHashSet();
                var regions = view.GetProperty("regions").EnumerateArray().Select(r => r.GetString()).ToHashSet();
                ready = view.GetProperty("ready").GetBoolean() && up.SetEquals(_akka) && regions.IsSupersetOf(_akka);
            }
            if (ready)
                return;
            await Task.Delay(200);
        }
        throw new TimeoutException("the two-node cluster did not form within 60 s; last view: " + last);
    }

    private static async Task<T> Eventually<T>(Func<T?> probe) where T : class
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (true)
        {
            if (probe() is { } found)
                return found;
            Assert.True(DateTime.UtcNow < deadline, "the expected telemetry did not arrive");
            await Task.Delay(50);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
