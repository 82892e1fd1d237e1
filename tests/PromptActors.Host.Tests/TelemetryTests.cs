using System.Collections;
using System.Diagnostics;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;
using PromptActors.Telemetry;

namespace PromptActors.Host.Tests;

/// <summary>A host whose traces go to an in-memory exporter (OpenTelemetry's), as an OTLP collector would get them.</summary>
public sealed class TracedHost : HostFixture
{
    public SpanLog Spans { get; } = new();

    protected override void Customize(WebApplicationBuilder builder) =>
        builder.Services.AddOpenTelemetry().WithTracing(t => t.AddSource([.. PromptActorsTelemetry.SourceNames])
            .AddAspNetCoreInstrumentation().AddInMemoryExporter(Spans));
}

/// <summary>The exporter's collection, safe to read while it adds.</summary>
public sealed class SpanLog : ICollection<Activity>
{
    private readonly List<Activity> _items = new();

    public Activity[] Snapshot()
    {
        lock (_items)
            return _items.ToArray();
    }

    public void Add(Activity item)
    {
        lock (_items)
            _items.Add(item);
    }

    public void Clear()
    {
        lock (_items)
            _items.Clear();
    }

    public int Count => Snapshot().Length;
    public bool IsReadOnly => false;
    public bool Contains(Activity item) => Snapshot().Contains(item);
    public void CopyTo(Activity[] array, int arrayIndex) => Snapshot().CopyTo(array, arrayIndex);
    public bool Remove(Activity item)
    {
        lock (_items)
            return _items.Remove(item);
    }

    public IEnumerator<Activity> GetEnumerator() => ((IEnumerable<Activity>)Snapshot()).GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

public sealed class TelemetryTests(TracedHost host) : IClassFixture<TracedHost>
{
    private const string Secret = "SECRET-TRACE-MESSAGE";

    [Fact]
    public async Task One_message_is_one_trace_from_the_http_request_through_the_engine_and_turn_to_the_model_and_the_run_store()
    {
        var client = host.Client();
        Assert.Equal(HttpStatusCode.OK, (await client.PutJson("/v1/prompts/traced", """
            {"name":"T","messages":[{"role":"system","content":"Be brief."}],"settings":{"model":"local"}}
            """)).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await client.PostJson("/v1/instances",
            """{"promptId":"traced","instanceId":"traced-i","executionConfig":{"allowChat":true}}""")).StatusCode);
        var stream = await (await client.PostJson("/v1/instances/traced-i/messages?stream=true",
            "{\"userInput\":\"" + Secret + " please\"}")).Content.ReadAsStringAsync();
        Assert.Contains("event: completed", stream);

        var traced = await Eventually(() => host.Spans.Snapshot().FirstOrDefault(s => s.OperationName == "chat local"
            && (string?)s.GetTagItem("gen_ai.conversation.id") == "traced-i"));
        var store = await Eventually(() => host.Spans.Snapshot().FirstOrDefault(s => s.TraceId == traced.TraceId
            && s.OperationName == "promptactors.run_store.write" && (string?)s.GetTagItem("promptactors.task.status") == "completed"));
        var spans = host.Spans.Snapshot().Where(s => s.TraceId == store.TraceId).ToArray();
        var http = Assert.Single(spans, s => s.Kind == ActivityKind.Server);
        var engine = Assert.Single(spans, s => s.OperationName == "promptactors.execute_message");
        var turn = Assert.Single(spans, s => s.OperationName == "promptactors.turn");
        var model = Assert.Single(spans, s => s.OperationName == "chat local");

        Assert.Equal(http.SpanId, engine.ParentSpanId);
        Assert.Equal(engine.SpanId, turn.ParentSpanId); // the trace context crossed into the instance in the command
        Assert.Equal(turn.SpanId, model.ParentSpanId);
        Assert.Equal(turn.SpanId, store.ParentSpanId);
        Assert.Equal(ActivityKind.Client, model.Kind);
        Assert.Equal("chat", model.GetTagItem("gen_ai.operation.name"));
        Assert.Equal("local", model.GetTagItem("gen_ai.provider.name"));
        Assert.Equal("local", model.GetTagItem("gen_ai.request.model"));
        Assert.Equal("local", model.GetTagItem("gen_ai.response.model"));
        Assert.Equal("traced-i", model.GetTagItem("gen_ai.conversation.id"));
        Assert.Equal("traced", model.GetTagItem("promptactors.prompt.id"));
        Assert.True((long)model.GetTagItem("gen_ai.usage.input_tokens")! > 0);
        Assert.True((long)model.GetTagItem("gen_ai.usage.output_tokens")! > 0);
        Assert.Equal(["stop"], (string[])model.GetTagItem("gen_ai.response.finish_reasons")!);

        // Content capture is off: no span, tag or event holds the message or the reply.
        foreach (var span in host.Spans.Snapshot())
        {
            Assert.DoesNotContain(span.TagObjects, t => t.Value?.ToString()?.Contains(Secret, StringComparison.Ordinal) == true);
            Assert.DoesNotContain(span.Events, e => e.Tags.Any(t => t.Value?.ToString()?.Contains(Secret, StringComparison.Ordinal) == true));
        }
    }

    [Fact]
    public async Task Metrics_are_served_by_the_prometheus_exporter_with_the_gen_ai_instruments_and_the_engine_s_own()
    {
        var client = host.Client();
        await client.PutJson("/v1/prompts/metered", """{"name":"M","messages":[{"role":"system","content":"Hi."}],"settings":{"model":"local"}}""");
        await client.PostJson("/v1/instances", """{"promptId":"metered","instanceId":"metered-i","executionConfig":{"allowChat":true}}""");
        await (await client.PostJson("/v1/instances/metered-i/messages?stream=true", "{\"userInput\":\"" + Secret + "\"}"))
            .Content.ReadAsStringAsync();

        var admin = host.Client(HostFixture.KeyAdmin);
        string[] names =
        [
            "gen_ai_client_token_usage", "gen_ai_client_operation_duration_seconds", "gen_ai_client_operation_time_to_first_chunk_seconds",
            "promptactors_turns_total", "promptactors_instances_active", "promptactors_journal_write_duration_seconds",
            "promptactors_outbox_lag_seconds", "promptactors_http_requests_total", "promptactors_sse_subscribers",
            "promptactors_messages_accepted_total",
        ];
        // Some are recorded after the reply (the outbox's lag once the row is written): wait for all of them.
        var text = await Eventually(async () =>
        {
            var t = await admin.GetStringAsync("/metrics");
            return names.All(n => t.Contains(n, StringComparison.Ordinal)) ? t : null;
        });

        foreach (var name in names)
            Assert.Contains(name, text);
        Assert.Contains("gen_ai_token_type=\"input\"", text);
        Assert.Contains("outcome=\"completed\"", text);
        Assert.DoesNotContain(Secret, text);
        Assert.Equal(HttpStatusCode.Forbidden, (await client.GetAsync("/metrics")).StatusCode); // operations need an admin key
    }

    private static async Task<T> Eventually<T>(Func<T?> probe) where T : class => await Eventually(() => Task.FromResult(probe()));

    private static async Task<T> Eventually<T>(Func<Task<T?>> probe) where T : class
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (true)
        {
            if (await probe() is { } found)
                return found;
            Assert.True(DateTime.UtcNow < deadline, "the expected telemetry did not arrive");
            await Task.Delay(50);
        }
    }
}
