using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace PromptActors.Host.Api;

/// <summary>A few counters in the Prometheus text format (enough to watch a node; OpenTelemetry can replace it).</summary>
public sealed class HostMetrics
{
    private long _requests;
    private long _serverErrors;
    private long _clientErrors;
    private long _instancesStarted;
    private long _messagesAccepted;

    public void Request(int status)
    {
        Interlocked.Increment(ref _requests);
        if (status >= 500)
            Interlocked.Increment(ref _serverErrors);
        else if (status >= 400)
            Interlocked.Increment(ref _clientErrors);
    }

    public void InstanceStarted() => Interlocked.Increment(ref _instancesStarted);

    public void MessageAccepted() => Interlocked.Increment(ref _messagesAccepted);

    public string Render()
    {
        var sb = new StringBuilder();
        void Counter(string name, string help, long value)
        {
            sb.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
            sb.Append("# TYPE ").Append(name).Append(" counter\n");
            sb.Append(name).Append(' ').Append(value.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }
        Counter("promptactors_http_requests_total", "HTTP requests served.", Interlocked.Read(ref _requests));
        Counter("promptactors_http_client_errors_total", "HTTP responses with a 4xx status.", Interlocked.Read(ref _clientErrors));
        Counter("promptactors_http_server_errors_total", "HTTP responses with a 5xx status.", Interlocked.Read(ref _serverErrors));
        Counter("promptactors_instances_started_total", "Execution instances started through HTTP.", Interlocked.Read(ref _instancesStarted));
        Counter("promptactors_messages_accepted_total", "Messages accepted through HTTP.", Interlocked.Read(ref _messagesAccepted));
        var process = Process.GetCurrentProcess();
        sb.Append("# TYPE promptactors_process_working_set_bytes gauge\npromptactors_process_working_set_bytes ")
            .Append(process.WorkingSet64.ToString(CultureInfo.InvariantCulture)).Append('\n');
        sb.Append("# TYPE promptactors_gc_heap_bytes gauge\npromptactors_gc_heap_bytes ")
            .Append(GC.GetTotalMemory(false).ToString(CultureInfo.InvariantCulture)).Append('\n');
        return sb.ToString();
    }
}
