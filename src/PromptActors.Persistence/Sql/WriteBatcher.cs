using System.Diagnostics;
using System.Threading.Channels;

namespace PromptActors.Persistence.Sql;

/// <summary>
/// Writes of many callers gathered into batches: each writer loop takes everything that queued while the previous batch
/// was in flight (up to a weight, e.g. rows) and writes it with one call, one round trip. When a batch fails, its items
/// are written again one by one, so one bad item fails alone and the others succeed. Used by the run store (its run-row
/// writes) and the PostgreSQL journal (its events).
/// </summary>
internal sealed class WriteBatcher<T>
{
    private readonly Channel<Entry> _queue = Channel.CreateUnbounded<Entry>();
    private readonly Func<IReadOnlyList<T>, Task> _write;
    private readonly Func<T, int> _weight;
    private readonly int _maxWeight;
    private readonly Action<IReadOnlyList<long>>? _taken;

    /// <summary>One queued item, when it was queued (<see cref="Stopwatch"/> ticks) and whoever waits for it.</summary>
    private sealed record Entry(T Item, long QueuedAt)
    {
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <param name="write">Writes one batch (atomically: all of it or none).</param>
    /// <param name="taken">Told the queue times of each batch as it is taken (for a queue-lag metric; the list is reused).</param>
    public WriteBatcher(Func<IReadOnlyList<T>, Task> write, Func<T, int> weight, int maxWeight, int writers,
        Action<IReadOnlyList<long>>? taken = null)
    {
        _write = write;
        _weight = weight;
        _maxWeight = maxWeight;
        _taken = taken;
        Completion = Task.WhenAll(Enumerable.Range(0, Math.Max(1, writers)).Select(_ => Task.Run(LoopAsync)));
    }

    /// <summary>Ends when <see cref="Complete"/> was called and every queued item is written or failed.</summary>
    public Task Completion { get; }

    /// <summary>Queues <paramref name="item"/>; the task ends once it is written (or fails with why it was not).</summary>
    public Task WriteAsync(T item)
    {
        var entry = new Entry(item, Stopwatch.GetTimestamp());
        return _queue.Writer.TryWrite(entry)
            ? entry.Done.Task
            : Task.FromException(new ObjectDisposedException(nameof(WriteBatcher<T>), "the writer is shut down"));
    }

    /// <summary>Takes no more items; those queued are still written.</summary>
    public void Complete() => _queue.Writer.TryComplete();

    private async Task LoopAsync()
    {
        var reader = _queue.Reader;
        var batch = new List<Entry>();
        var queuedAt = new List<long>(); // reused: the callback must not keep it
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            var weight = 0;
            while (weight < _maxWeight && reader.TryRead(out var entry))
            {
                batch.Add(entry);
                weight += _weight(entry.Item);
            }
            if (batch.Count == 0)
                continue; // another writer took them
            if (_taken is not null)
            {
                queuedAt.Clear();
                foreach (var e in batch)
                    queuedAt.Add(e.QueuedAt);
                _taken(queuedAt);
            }
            try
            {
                await _write(batch.Select(e => e.Item).ToArray()).ConfigureAwait(false);
                foreach (var e in batch)
                    e.Done.TrySetResult();
            }
            catch (Exception) when (batch.Count > 1)
            {
                foreach (var e in batch)
                {
                    try
                    {
                        await _write([e.Item]).ConfigureAwait(false);
                        e.Done.TrySetResult();
                    }
                    catch (Exception ex)
                    {
                        e.Done.TrySetException(ex);
                    }
                }
            }
            catch (Exception ex)
            {
                batch[0].Done.TrySetException(ex);
            }
        }
    }
}
