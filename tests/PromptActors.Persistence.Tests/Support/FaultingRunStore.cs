using PromptActors.Runs;

namespace PromptActors.Persistence.Tests.Support;

/// <summary>What <see cref="FaultingRunStore"/> does with one write.</summary>
public enum WriteFault
{
    /// <summary>Write it.</summary>
    None,

    /// <summary>Write it, then trip (the caller gets its answer).</summary>
    WriteAndTrip,

    /// <summary>Trip and never answer; nothing is written (the process dies before the write).</summary>
    HangBeforeWrite,

    /// <summary>Write it, trip and never answer (the process dies after the commit, before the acknowledgement).</summary>
    HangAfterWrite,

    /// <summary>Trip and fail; nothing is written.</summary>
    FailBeforeWrite,

    /// <summary>Trip, wait for <see cref="FaultingRunStore.Gate"/>, then write (to line a write up with an outage).</summary>
    HoldThenWrite,

    /// <summary>Wait <see cref="FaultingRunStore.Delay"/>, then write (a slow store; nothing trips).</summary>
    DelayThenWrite,
}

/// <summary>Wraps the real run store and misbehaves at a chosen write, so a test can crash the node at that exact step.</summary>
public sealed class FaultingRunStore(IRunStore inner) : IRunStore
{
    private readonly TaskCompletionSource<RunTaskRecord> _tripped = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Decides what happens to each write.</summary>
    public Func<RunTaskRecord, WriteFault> Rule { get; set; } = _ => WriteFault.None;

    /// <summary>What <see cref="WriteFault.HoldThenWrite"/> waits for.</summary>
    public Task Gate { get; set; } = Task.CompletedTask;

    /// <summary>How long <see cref="WriteFault.DelayThenWrite"/> holds each write.</summary>
    public TimeSpan Delay { get; set; } = TimeSpan.FromMilliseconds(300);

    /// <summary>Completes with the write that tripped the fault.</summary>
    public Task<RunTaskRecord> Tripped => _tripped.Task;

    public async Task UpsertTaskAsync(RunTaskRecord task, CancellationToken cancellationToken = default)
    {
        switch (Rule(task))
        {
            case WriteFault.None:
                await inner.UpsertTaskAsync(task, cancellationToken);
                break;
            case WriteFault.WriteAndTrip:
                await inner.UpsertTaskAsync(task, cancellationToken);
                _tripped.TrySetResult(task);
                break;
            case WriteFault.HangBeforeWrite:
                _tripped.TrySetResult(task);
                await Never();
                break;
            case WriteFault.HangAfterWrite:
                await inner.UpsertTaskAsync(task, cancellationToken);
                _tripped.TrySetResult(task);
                await Never();
                break;
            case WriteFault.FailBeforeWrite:
                _tripped.TrySetResult(task);
                throw new InvalidOperationException("simulated run-store failure");
            case WriteFault.HoldThenWrite:
                _tripped.TrySetResult(task);
                await Gate;
                await inner.UpsertTaskAsync(task, cancellationToken);
                break;
            case WriteFault.DelayThenWrite:
                await Task.Delay(Delay, CancellationToken.None);
                await inner.UpsertTaskAsync(task, cancellationToken);
                break;
        }
    }

    public Task<RunRecord?> GetRunAsync(string runId, CancellationToken cancellationToken = default) =>
        inner.GetRunAsync(runId, cancellationToken);

    public Task<IReadOnlyList<RunRecord>> ListRunsAsync(string userId, int limit = 100, CancellationToken cancellationToken = default) =>
        inner.ListRunsAsync(userId, limit, cancellationToken);

    public Task<IReadOnlyList<RunRecord>> ListRunsAsync(PromptActors.Variables.InstanceScope scope, int limit = 100,
        CancellationToken cancellationToken = default) =>
        inner.ListRunsAsync(scope, limit, cancellationToken);

    private static Task Never() => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously).Task;
}
