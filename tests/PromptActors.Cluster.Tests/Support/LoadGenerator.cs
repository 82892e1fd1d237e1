using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http;

namespace PromptActors.Cluster.Tests.Support;

/// <summary>A reply the client saw complete: it must be in the instance's conversation and in ai_tasks exactly once.</summary>
public sealed record CompletedReply(string InstanceId, string TaskId, string UserMessage, string Text, TimeSpan At);

/// <summary>
/// Streaming load: one loop per instance sends a message with <c>?stream=true</c> through a random routable node (the
/// tests' load balancer) and reads the reply to its terminal event. Every message text is unique and sent once: a failed
/// message is never re-sent, so a duplicate anywhere would be the engine's. It records what completed, the failures by
/// kind, and per instance the longest time between two completed replies.
/// </summary>
public sealed class LoadGenerator(ClusterFixture cluster, IReadOnlyList<string> instances, int words = 8, TimeSpan? clientTimeout = null)
{
    private readonly TimeSpan _clientTimeout = clientTimeout ?? TimeSpan.FromSeconds(45);
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly string _tag = Guid.NewGuid().ToString("N")[..6]; // message texts are unique across generators too
    private readonly ConcurrentBag<CompletedReply> _completed = new();
    private readonly ConcurrentDictionary<string, int> _failures = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TimeSpan> _longestGap = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TimeSpan> _lastSuccess = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _samples = new();
    private CancellationTokenSource? _stop;
    private Task[] _loops = [];
    private int _sent;

    public IReadOnlyCollection<CompletedReply> Completed => _completed;
    public IReadOnlyDictionary<string, int> Failures => _failures;
    public IReadOnlyDictionary<string, TimeSpan> LongestGap => _longestGap;
    public int Sent => _sent;
    public TimeSpan Now => _clock.Elapsed;
    public IEnumerable<string> FailureSamples => _samples;

    public int FailureCount(Func<string, bool>? kind = null) => _failures.Where(kv => kind?.Invoke(kv.Key) ?? true).Sum(kv => kv.Value);

    /// <summary>The first completed reply of <paramref name="instanceId"/> at or after <paramref name="since"/>.</summary>
    public TimeSpan? FirstSuccessAfter(string instanceId, TimeSpan since) =>
        _completed.Where(c => c.InstanceId == instanceId && c.At >= since).Select(c => (TimeSpan?)c.At).Min();

    public void Start()
    {
        _stop = new CancellationTokenSource();
        foreach (var id in instances)
            _lastSuccess[id] = _clock.Elapsed;
        _loops = instances.Select((id, i) => Task.Run(() => LoopAsync(id, i, _stop.Token))).ToArray();
    }

    public async Task StopAsync()
    {
        _stop?.Cancel();
        await Task.WhenAll(_loops);
    }

    private async Task LoopAsync(string instanceId, int n, CancellationToken stop)
    {
        var random = new Random(n * 7919 + 17);
        var seq = 0;
        while (!stop.IsCancellationRequested)
        {
            var nodes = cluster.Routable;
            if (nodes.Length == 0)
            {
                await Delay(200, stop);
                continue;
            }
            var node = nodes[random.Next(nodes.Length)];
            var message = $"{_tag}-m{n}-{++seq} " + string.Join(' ', Enumerable.Range(1, words).Select(w => $"w{w}"));
            Interlocked.Increment(ref _sent);
            try
            {
                using var timeout = new CancellationTokenSource(_clientTimeout);
                var outcome = await cluster.Client.SendStreamingAsync(node, instanceId, message, timeout.Token);
                if (outcome.Completed)
                {
                    var at = _clock.Elapsed;
                    _completed.Add(new CompletedReply(instanceId, outcome.TaskId!, message, outcome.Text, at));
                    var gap = at - _lastSuccess[instanceId];
                    _lastSuccess[instanceId] = at;
                    _longestGap.AddOrUpdate(instanceId, gap, (_, old) => gap > old ? gap : old);
                }
                else
                    Fail($"stream:{outcome.Code ?? outcome.Terminal}", $"{node}: {outcome.Detail}");
            }
            catch (EngineHttpException e)
            {
                Fail($"http:{(int)e.Status}:{e.Code}", $"{node}: {e.Message}");
                await Delay(e.Code == "instance_busy" ? 100 : 250, stop);
            }
            catch (HttpRequestException e)
            {
                Fail("connection", $"{node}: {e.Message}");
                await Delay(250, stop);
            }
            catch (Exception e) when (e is OperationCanceledException or IOException)
            {
                if (stop.IsCancellationRequested)
                    return;
                Fail(e is OperationCanceledException ? "client-timeout" : "io", $"{node}: {e.Message}");
                await Delay(250, stop);
            }
        }
    }

    private void Fail(string kind, string sample)
    {
        _failures.AddOrUpdate(kind, 1, (_, c) => c + 1);
        if (_samples.Count < 40)
            _samples.Enqueue($"{_clock.Elapsed.TotalSeconds:F1}s {kind} {sample}");
    }

    private static async Task Delay(int ms, CancellationToken stop)
    {
        try
        {
            await Task.Delay(ms, stop);
        }
        catch (OperationCanceledException)
        {
        }
    }

    public string Report() =>
        $"sent {Sent}, completed {_completed.Count}, failures {FailureCount()} " +
        $"[{string.Join(", ", _failures.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key}={kv.Value}"))}]; " +
        $"longest time between two completed replies of one instance: " +
        $"{(_longestGap.IsEmpty ? 0 : _longestGap.Values.Max().TotalSeconds):F1} s " +
        $"(per instance: {string.Join(", ", _longestGap.OrderBy(kv => kv.Key).Select(kv => $"{kv.Value.TotalSeconds:F1}"))})";
}
