namespace PromptActors.Bench.Infrastructure;

/// <summary>Thread-safe collection of latency samples in milliseconds, with nearest-rank percentiles.</summary>
public sealed class LatencyRecorder
{
    private readonly Lock _gate = new();
    private readonly List<double> _samples = new();
    private double[]? _sorted;

    public void Add(double ms)
    {
        lock (_gate)
        {
            _samples.Add(ms);
            _sorted = null;
        }
    }

    public int Count
    {
        get
        {
            lock (_gate)
                return _samples.Count;
        }
    }

    public double Percentile(double p)
    {
        var sorted = Sorted();
        if (sorted.Length == 0)
            return double.NaN;
        var rank = (int)Math.Ceiling(p / 100.0 * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }

    public double P50 => Percentile(50);
    public double P99 => Percentile(99);
    public double Max => Percentile(100);

    public double Mean
    {
        get
        {
            var sorted = Sorted();
            return sorted.Length == 0 ? double.NaN : sorted.Average();
        }
    }

    private double[] Sorted()
    {
        lock (_gate)
        {
            if (_sorted is null)
            {
                _sorted = _samples.ToArray();
                Array.Sort(_sorted);
            }
            return _sorted;
        }
    }
}
