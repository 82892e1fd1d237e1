using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using PromptActors.Host.Api;
using PromptActors.Telemetry;

namespace PromptActors.Host;

/// <summary>
/// <c>PromptActors:Telemetry</c>: metrics are always collected for <c>/metrics</c> (OpenTelemetry's Prometheus exporter);
/// traces only when an exporter is on (<c>Otlp:Endpoint</c> or <c>Console</c>). <c>CaptureContent</c> adds message
/// contents to model spans (off: no prompt, message or reply text is recorded).
/// </summary>
public sealed class TelemetryOptions
{
    public const string Section = "PromptActors:Telemetry";

    public string? OtlpEndpoint { get; set; }
    public bool Console { get; set; }
    public bool CaptureContent { get; set; }
    public string ServiceName { get; set; } = "promptactors";

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (OtlpEndpoint is { Length: > 0 } endpoint
            && (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")))
            errors.Add($"{Section}:OtlpEndpoint must be an absolute http(s) URL such as http://127.0.0.1:4317");
        if (string.IsNullOrWhiteSpace(ServiceName))
            errors.Add($"{Section}:ServiceName must not be empty");
        return errors;
    }
}

public static class HostTelemetry
{
    public static void AddPromptActorsTelemetry(this IServiceCollection services, IConfiguration configuration)
    {
        var options = new TelemetryOptions();
        configuration.GetSection(TelemetryOptions.Section).Bind(options);
        if (options.Validate() is { Count: > 0 } errors)
            throw new Microsoft.Extensions.Options.OptionsValidationException(TelemetryOptions.Section, typeof(TelemetryOptions), errors);
        PromptActorsTelemetry.CaptureContent = options.CaptureContent;

        var otel = services.AddOpenTelemetry().ConfigureResource(r => r.AddService(options.ServiceName));
        otel.WithMetrics(metrics =>
        {
            metrics.AddMeter(PromptActorsTelemetry.MeterName, HostMetrics.MeterName).AddPrometheusExporter();
            if (options.OtlpEndpoint is { Length: > 0 } endpoint)
                metrics.AddOtlpExporter(o => o.Endpoint = new Uri(endpoint));
            if (options.Console)
                metrics.AddConsoleExporter();
        });
        if (options.OtlpEndpoint is { Length: > 0 } || options.Console)
        {
            otel.WithTracing(tracing =>
            {
                tracing.AddSource([.. PromptActorsTelemetry.SourceNames]).AddAspNetCoreInstrumentation();
                if (options.OtlpEndpoint is { Length: > 0 } endpoint)
                    tracing.AddOtlpExporter(o => o.Endpoint = new Uri(endpoint));
                if (options.Console)
                    tracing.AddConsoleExporter();
            });
        }
    }
}
