using PromptActors.Persistence.Sql;

namespace PromptActors.Persistence.Tests.Stores;

/// <summary>
/// The batcher behind the PostgreSQL journal and the run store: a lone write starts on its caller's thread, writes that
/// queue behind a batch in flight go together, never more than the writer count at once, a bad item fails alone, and
/// completing waits for what was queued.
/// </summary>
public sealed class WriteBatcherTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task With_a_linger_a_writer_waits_before_its_first_batch_and_writes_what_came_meanwhile_together()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var batches = new System.Collections.Concurrent.ConcurrentQueue<int[]>();
        var batcher = new WriteBatcher<int>(batch =>
        {
            batches.Enqueue(batch.ToArray());
            return Task.CompletedTask;
        }, static _ => 1, maxWeight: 10, writers: 1, startOnCaller: false, linger: TimeSpan.FromMilliseconds(3), time: time);

        var first = batcher.WriteAsync(1);
        var second = batcher.WriteAsync(2);
        var third = batcher.WriteAsync(3);
        Assert.False(first.IsCompleted); // the writer lingers: nothing is sent before the clock moves
        Assert.Empty(batches);
        time.Advance(TimeSpan.FromMilliseconds(3));
        await Task.WhenAll(first, second, third).WaitAsync(Patience);
        Assert.Equal([1, 2, 3], Assert.Single(batches)); // one batch, one commit

        var fourth = batcher.WriteAsync(4); // the writer ended: the next write lingers again
        Assert.False(fourth.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(3));
        await fourth.WaitAsync(Patience);
        Assert.Equal(2, batches.Count);
    }

    [Fact]
    public async Task A_write_to_an_idle_batcher_starts_on_the_callers_thread()
    {
        int? writtenOn = null;
        var batcher = new WriteBatcher<int>(batch =>
        {
            writtenOn = Environment.CurrentManagedThreadId;
            return Task.CompletedTask;
        }, static _ => 1, maxWeight: 10, writers: 1);
        var caller = Environment.CurrentManagedThreadId;
        var written = batcher.WriteAsync(1);
        Assert.True(written.IsCompletedSuccessfully); // the write completed synchronously, so did the caller's task
        Assert.Equal(caller, writtenOn);
        await written;
    }

    [Fact]
    public async Task A_batcher_that_does_not_start_on_the_caller_writes_on_a_pool_thread_and_the_caller_goes_on()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var ran = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var caller = Environment.CurrentManagedThreadId;
        var inCall = true;
        var batcher = new WriteBatcher<int>(async _ =>
        {
            ran.TrySetResult(Volatile.Read(ref inCall) && Environment.CurrentManagedThreadId == caller); // inside WriteAsync?
            await release.Task;
        }, static _ => 1, maxWeight: 10, writers: 1, startOnCaller: false);
        var written = batcher.WriteAsync(1);
        Volatile.Write(ref inCall, false);
        Assert.False(await ran.Task.WaitAsync(Patience));
        Assert.False(written.IsCompleted);
        release.SetResult();
        await written.WaitAsync(Patience);
    }

    [Fact]
    public async Task Writes_queued_behind_a_batch_in_flight_go_together_and_never_more_batches_than_writers_at_once()
    {
        var gates = new List<TaskCompletionSource>();
        var batches = new List<int[]>();
        var inFlight = 0;
        var maxInFlight = 0;
        var gate = new object();
        var started = new SemaphoreSlim(0);
        var batcher = new WriteBatcher<int>(async batch =>
        {
            TaskCompletionSource release;
            lock (gate)
            {
                batches.Add(batch.ToArray());
                maxInFlight = Math.Max(maxInFlight, ++inFlight);
                gates.Add(release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            }
            started.Release();
            await release.Task;
            lock (gate)
                inFlight--;
        }, static _ => 1, maxWeight: 3, writers: 2);

        var first = batcher.WriteAsync(1);   // writer A
        var second = batcher.WriteAsync(2);  // writer B
        var queued = Enumerable.Range(3, 5).Select(batcher.WriteAsync).ToList(); // both busy: these wait
        lock (gate)
        {
            Assert.Equal([[1], [2]], batches);
            gates[0].SetResult(); // A takes the next three (the weight limit), then B the last two
        }
        await first.WaitAsync(Patience);
        Assert.True(await started.WaitAsync(Patience)); // [1]
        Assert.True(await started.WaitAsync(Patience)); // [2]
        Assert.True(await started.WaitAsync(Patience)); // A's second batch
        lock (gate)
        {
            Assert.Equal([3, 4, 5], batches[2]);
            gates[1].SetResult();
        }
        await second.WaitAsync(Patience);
        Assert.True(await started.WaitAsync(Patience)); // B's second batch
        lock (gate)
        {
            Assert.Equal([6, 7], batches[3]);
            gates[2].SetResult();
            gates[3].SetResult();
        }
        await Task.WhenAll(queued).WaitAsync(Patience);
        Assert.Equal(2, maxInFlight);
    }

    [Fact]
    public async Task A_failing_batch_is_written_again_item_by_item_so_only_the_bad_item_fails()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var written = new List<int>();
        var batcher = new WriteBatcher<int>(async batch =>
        {
            if (batch[0] == 0)
                await release.Task; // holds the writer so the next three queue into one batch
            if (batch.Contains(13))
                throw new InvalidOperationException("bad item");
            lock (written)
                written.AddRange(batch);
        }, static _ => 1, maxWeight: 10, writers: 1);
        var holder = batcher.WriteAsync(0);
        var good1 = batcher.WriteAsync(12);
        var bad = batcher.WriteAsync(13);
        var good2 = batcher.WriteAsync(14);
        release.SetResult();
        await Task.WhenAll(holder, good1, good2).WaitAsync(Patience);
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => bad.WaitAsync(Patience));
        Assert.Equal("bad item", error.Message);
        Assert.Equal([0, 12, 14], written);
    }

    [Fact]
    public async Task Many_writers_from_many_threads_each_get_their_item_written_exactly_once()
    {
        var seen = new System.Collections.Concurrent.ConcurrentDictionary<int, int>();
        var batcher = new WriteBatcher<int>(async batch =>
        {
            await Task.Yield();
            foreach (var i in batch)
                seen.AddOrUpdate(i, 1, (_, n) => n + 1);
        }, static _ => 1, maxWeight: 16, writers: 2);
        var writes = await Task.WhenAll(Enumerable.Range(0, 8).Select(t => Task.Run(() =>
            Enumerable.Range(t * 1000, 1000).Select(batcher.WriteAsync).ToList())));
        await Task.WhenAll(writes.SelectMany(w => w)).WaitAsync(Patience);
        Assert.Equal(8000, seen.Count);
        Assert.All(seen.Values, n => Assert.Equal(1, n));
    }

    [Fact]
    public async Task Completing_waits_for_what_was_queued_and_later_writes_are_refused()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var batcher = new WriteBatcher<int>(_ => release.Task, static _ => 1, maxWeight: 10, writers: 1);
        var pending = batcher.WriteAsync(1);
        batcher.Complete();
        Assert.False(batcher.Completion.IsCompleted);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => batcher.WriteAsync(2));
        release.SetResult();
        await pending.WaitAsync(Patience);
        await batcher.Completion.WaitAsync(Patience);
    }

    [Fact]
    public async Task An_idle_batcher_completes_at_once()
    {
        var batcher = new WriteBatcher<int>(_ => Task.CompletedTask, static _ => 1, maxWeight: 10, writers: 1);
        await batcher.WriteAsync(1);
        batcher.Complete();
        await batcher.Completion.WaitAsync(Patience);
    }
}
