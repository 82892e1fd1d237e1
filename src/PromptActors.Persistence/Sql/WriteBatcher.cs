using System.Collections.Concurrent;
using System.Diagnostics;

namespace PromptActors.Persistence.Sql;

/// <summary>
/// Writes of many callers gathered into batches: each writer takes everything that queued while the previous batch was in
/// flight (up to a weight, e.g. rows) and writes it with one call, one round trip. When a batch fails, its items are
/// written again one by one, so one bad item fails alone and the others succeed. Used by the run store (its run-row
/// writes) and the PostgreSQL journal (its events).
/// <para>
/// No thread waits for work: a write that finds a writer slot free becomes the writer itself and starts its batch, on the
/// caller's thread when <c>startOnCaller</c> (a lone conversation's journal write goes out with no hand-off to another
/// thread, which on a small machine costs a thread wake-up of 0.05–0.2 ms), else on a pool thread; the writer then goes
/// on, on whatever thread its round trip completed, while writes are queued, and ends when none are. Callers' continuations run on the writer's thread (they only tell an actor).
/// </para>
/// <para>With a <c>linger</c>, a writer that starts waits that long before it takes its first batch, so writes that come
/// one after another (a lone conversation's rows) share a commit instead of each paying its own.</para>
/// </summary>
internal sealed class WriteBatcher<T>
{
    private readonly ConcurrentQueue<Entry> _queue = new();
    private readonly Func<IReadOnlyList<T>, Task> _write;
    private readonly Func<T, int> _weight;
    private readonly int _maxWeight;
    private readonly int _writers;
    private readonly Action<IReadOnlyList<long>>? _taken;
    private readonly bool _startOnCaller;
    private readonly TimeSpan _linger;
    private readonly TimeProvider _time;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _active; // writers running now (at most _writers)
    private volatile bool _completed;

    /// <summary>One queued item, when it was queued (<see cref="Stopwatch"/> ticks) and whoever waits for it.</summary>
    private sealed record Entry(T Item, long QueuedAt)
    {
        public TaskCompletionSource Done { get; } = new();
    }

    /// <param name="write">Writes one batch (atomically: all of it or none).</param>
    /// <param name="writers">How many batches may be in flight at once.</param>
    /// <param name="taken">Told the queue times of each batch as it is taken (for a queue-lag metric; the list is reused).</param>
    /// <param name="startOnCaller">
    /// True: a write that finds a writer free starts the batch on the caller's thread (for writes someone waits for, such
    /// as the journal's). False: the batch starts on a pool thread, so the caller (an instance handing its row to the
    /// outbox right after telling its subscribers the reply) goes on at once.
    /// </param>
    /// <param name="linger">How long a writer that starts waits before taking its first batch (zero: not at all).</param>
    /// <param name="time">The clock the linger is measured with.</param>
    public WriteBatcher(Func<IReadOnlyList<T>, Task> write, Func<T, int> weight, int maxWeight, int writers,
        Action<IReadOnlyList<long>>? taken = null, bool startOnCaller = true, TimeSpan linger = default, TimeProvider? time = null)
    {
        _linger = linger;
        _time = time ?? TimeProvider.System;
        _startOnCaller = startOnCaller;
        _write = write;
        _weight = weight;
        _maxWeight = maxWeight;
        _writers = Math.Max(1, writers);
        _taken = taken;
    }

    /// <summary>Ends when <see cref="Complete"/> was called and every queued item is written or failed.</summary>
    public Task Completion => _completion.Task;

    /// <summary>Queues <paramref name="item"/>; the task ends once it is written (or fails with why it was not).</summary>
    public Task WriteAsync(T item)
    {
        if (_completed)
            return Task.FromException(new ObjectDisposedException(nameof(WriteBatcher<T>), "the writer is shut down"));
        var entry = new Entry(item, Stopwatch.GetTimestamp());
        _queue.Enqueue(entry);
        if (!TryAcquire())
            return entry.Done.Task;
        if (_linger > TimeSpan.Zero)
            _ = LingerThenDrainAsync();
        else if (_startOnCaller)
            _ = DrainAsync(); // runs on this thread until its first round trip is on its way
        else
            ThreadPool.UnsafeQueueUserWorkItem(static batcher => _ = batcher.DrainAsync(), this, preferLocal: false);
        return entry.Done.Task;
    }

    /// <summary>Takes no more items; those queued are still written.</summary>
    public void Complete()
    {
        _completed = true;
        CompleteIfIdle();
    }

    private bool TryAcquire()
    {
        while (true)
        {
            var active = Volatile.Read(ref _active);
            if (active >= _writers)
                return false; // a running writer takes the item
            if (Interlocked.CompareExchange(ref _active, active + 1, active) == active)
                return true;
        }
    }

    private void CompleteIfIdle()
    {
        if (_completed && Volatile.Read(ref _active) == 0 && _queue.IsEmpty)
            _completion.TrySetResult();
    }

    private async Task LingerThenDrainAsync()
    {
        await Task.Delay(_linger, _time).ConfigureAwait(false);
        await DrainAsync().ConfigureAwait(false);
    }

    private async Task DrainAsync()
    {
        var batch = new List<Entry>();
        var queuedAt = new List<long>(); // reused: the callback must not keep it
        while (true)
        {
            batch.Clear();
            var weight = 0;
            while (weight < _maxWeight && _queue.TryDequeue(out var entry))
            {
                batch.Add(entry);
                weight += _weight(entry.Item);
            }
            if (batch.Count == 0)
            {
                Interlocked.Decrement(ref _active);
                // An item queued between the dequeue above and the decrement saw every writer busy: take it up again.
                if (!_queue.IsEmpty && TryAcquire())
                    continue;
                CompleteIfIdle();
                return;
            }
            if (_taken is not null)
            {
                queuedAt.Clear();
                foreach (var e in batch)
                    queuedAt.Add(e.QueuedAt);
                try
                {
                    _taken(queuedAt);
                }
                catch (Exception)
                {
                    // a metric callback must not stop the writer
                }
            }
            await WriteBatchAsync(batch).ConfigureAwait(false);
        }
    }

    private async Task WriteBatchAsync(List<Entry> batch)
    {
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
