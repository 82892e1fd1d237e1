using System.Collections.Concurrent;
using Microsoft.Extensions.AI;
using PromptActors.Tools;

namespace PromptActors.Tests.Support;

/// <summary>Tools for the tool-loop tests, counting their calls (a side effect outside the engine) and the keys they got.</summary>
public sealed class ToolBox
{
    private int _lookups;
    private int _refunds;
    private int _slowStarts;
    public ConcurrentQueue<string> Keys { get; } = new();

    public int Lookups => Volatile.Read(ref _lookups);
    public int Refunds => Volatile.Read(ref _refunds);
    public int SlowStarts => Volatile.Read(ref _slowStarts);

    /// <summary>Completed to let <c>slow_lookup</c> and <c>slow_charge</c> calls return.</summary>
    public TaskCompletionSource SlowGate { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completed when a <c>slow_*</c> or <c>hang</c> call has started.</summary>
    public TaskCompletionSource Started { get; private set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void ResetStarted() => Started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>A slow call: counted and keyed when it starts, it returns <paramref name="result"/> once <see cref="SlowGate"/> opens.</summary>
    private async Task<string> Slow(string result, AIFunctionArguments args, CancellationToken ct)
    {
        Interlocked.Increment(ref _slowStarts);
        Keys.Enqueue(ToolCallContext.From(args)!.IdempotencyKey);
        Started.TrySetResult();
        await SlowGate.Task.WaitAsync(ct);
        return result;
    }

    public void Register(ToolCollection tools)
    {
        tools.Add(AIFunctionFactory.Create((string orderId, AIFunctionArguments args) =>
        {
            Interlocked.Increment(ref _lookups);
            Keys.Enqueue(ToolCallContext.From(args)!.IdempotencyKey);
            return new { orderId, status = "shipped" };
        }, "lookup_order", "Looks up an order by id."), ToolPolicy.Idempotent);
        tools.Add(AIFunctionFactory.Create((string orderId) =>
        {
            Interlocked.Increment(ref _refunds);
            return $"refund of {orderId} issued";
        }, "refund_order", "Refunds an order."), requiresApproval: true);
        tools.Add(AIFunctionFactory.Create((string orderId, AIFunctionArguments args, CancellationToken ct) => Slow("charged " + orderId, args, ct),
            "slow_charge", "Charges an order, slowly."));
        tools.Add(AIFunctionFactory.Create((string orderId, AIFunctionArguments args, CancellationToken ct) => Slow("found " + orderId, args, ct),
            "slow_lookup", "Looks up an order, slowly."), ToolPolicy.Idempotent);
        tools.Add(AIFunctionFactory.Create(string () => throw new InvalidOperationException("the warehouse is on fire"),
            "broken", "Always fails."));
        tools.Add(AIFunctionFactory.Create(async () =>
        {
            Started.TrySetResult();
            await Task.Delay(Timeout.Infinite); // ignores its token
            return "never";
        }, "hang", "Never returns."), timeout: TimeSpan.FromSeconds(2));
    }
}
