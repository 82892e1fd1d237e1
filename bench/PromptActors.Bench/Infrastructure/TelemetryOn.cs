using System.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using PromptActors.Telemetry;

namespace PromptActors.Bench.Infrastructure;

/// <summary>
/// The engine's telemetry turned on as a host with an exporter has it: every span of the engine's sources sampled and
/// handed to a batch processor, every metric of its meter read once a second. The exporters only count what they get, so
/// the figures show what the engine's instrumentation and the OpenTelemetry SDK cost, not a network or a collector.
/// </summary>
public sealed class TelemetryOn : IDisposable
{
    private readonly TracerProvider _tracer;
    private readonly MeterProvider _meter;
    private readonly Counting<Activity> _spans = new();
    private readonly Counting<Metric> _metrics = new();

    public TelemetryOn()
    {
        _tracer = Sdk.CreateTracerProviderBuilder().AddSource([.. PromptActorsTelemetry.SourceNames]).SetSampler(new AlwaysOnSampler())
            .AddProcessor(new BatchActivityExportProcessor(_spans, maxQueueSize: 1 << 17, scheduledDelayMilliseconds: 200,
                maxExportBatchSize: 4096))
            .Build()!;
        _meter = Sdk.CreateMeterProviderBuilder().AddMeter(PromptActorsTelemetry.MeterName)
            .AddReader(new PeriodicExportingMetricReader(_metrics, exportIntervalMilliseconds: 1000))
            .Build()!;
    }

    /// <summary>Spans exported so far (after <see cref="Dispose"/>: all of them).</summary>
    public long Spans => _spans.Count;

    public void Dispose()
    {
        _tracer.ForceFlush();
        _tracer.Dispose();
        _meter.Dispose();
    }

    private sealed class Counting<T> : BaseExporter<T> where T : class
    {
        private long _count;

        public long Count => Interlocked.Read(ref _count);

        public override ExportResult Export(in Batch<T> batch)
        {
            Interlocked.Add(ref _count, batch.Count);
            return ExportResult.Success;
        }
    }
}
