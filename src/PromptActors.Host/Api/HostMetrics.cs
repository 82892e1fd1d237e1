using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace PromptActors.Host.Api;

/// <summary>
/// The host's own instruments (meter <c>PromptActors.Host</c>), served at <c>/metrics</c> by OpenTelemetry's Prometheus
/// exporter beside the engine's (<c>PromptActors</c>: GenAI token usage, durations, turns, instances, outbox, journal).
/// </summary>
public sealed class HostMetrics
{
    public const string MeterName = "PromptActors.Host";

    private readonly Counter<long> _requests;
    private readonly Counter<long> _clientErrors;
    private readonly Counter<long> _serverErrors;
    private readonly Counter<long> _instancesStarted;
    private readonly Counter<long> _messagesAccepted;
    private readonly UpDownCounter<long> _sseSubscribers;

    public HostMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        _requests = meter.CreateCounter<long>("promptactors.http.requests", "{request}", "HTTP requests served.");
        _clientErrors = meter.CreateCounter<long>("promptactors.http.client_errors", "{request}", "HTTP responses with a 4xx status.");
        _serverErrors = meter.CreateCounter<long>("promptactors.http.server_errors", "{request}", "HTTP responses with a 5xx status.");
        _instancesStarted = meter.CreateCounter<long>("promptactors.instances.started", "{instance}", "Execution instances started through HTTP.");
        _messagesAccepted = meter.CreateCounter<long>("promptactors.messages.accepted", "{message}", "Messages accepted through HTTP.");
        _sseSubscribers = meter.CreateUpDownCounter<long>("promptactors.sse.subscribers", "{subscriber}", "Open SSE reply streams.");
        meter.CreateObservableGauge("promptactors.process.working_set", () => Process.GetCurrentProcess().WorkingSet64, "By",
            "The process's working set.");
        meter.CreateObservableGauge("promptactors.gc.heap", () => GC.GetTotalMemory(false), "By", "Bytes allocated on the GC heap.");
    }

    public void Request(int status)
    {
        _requests.Add(1);
        if (status >= 500)
            _serverErrors.Add(1);
        else if (status >= 400)
            _clientErrors.Add(1);
    }

    public void InstanceStarted() => _instancesStarted.Add(1);

    public void MessageAccepted() => _messagesAccepted.Add(1);

    public void SseOpened() => _sseSubscribers.Add(1);

    public void SseClosed() => _sseSubscribers.Add(-1);
}
