using Microsoft.Extensions.Time.Testing;
using PromptActors.Hosting;

namespace PromptActors.Tests.Hosting;

public sealed class LogStormGuardTests
{
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero));

    [Fact]
    public void A_storm_of_alike_entries_writes_a_few_per_window_and_one_stack_trace()
    {
        var guard = new LogStormGuard(_clock);
        var failure = new InvalidOperationException("database down");

        var first = Enumerable.Range(0, 1000).Select(_ => guard.Admit("PromptActors.X", 4, failure)).ToList();

        Assert.Equal(LogStormGuard.PerWindow, first.Count(v => v.Write));
        Assert.Single(first, v => v.WithStackTrace);
        Assert.True(first[0].WithStackTrace);

        // The next window reports how many were suppressed, without the stack trace again.
        _clock.Advance(LogStormGuard.Window);
        var next = guard.Admit("PromptActors.X", 4, failure);
        Assert.True(next.Write);
        Assert.False(next.WithStackTrace);
        Assert.Equal(1000 - LogStormGuard.PerWindow, next.SuppressedBefore);

        // After StackTraceEvery the stack trace is written once more.
        _clock.Advance(LogStormGuard.StackTraceEvery);
        Assert.True(guard.Admit("PromptActors.X", 4, failure).WithStackTrace);
    }

    [Fact]
    public void Entries_of_other_categories_levels_or_exception_types_are_counted_apart()
    {
        var guard = new LogStormGuard(_clock);
        for (var i = 0; i < 50; i++)
            guard.Admit("PromptActors.X", 4, new TimeoutException());

        Assert.True(guard.Admit("PromptActors.Y", 4, new TimeoutException()).Write);
        Assert.True(guard.Admit("PromptActors.X", 3, new TimeoutException()).Write);
        Assert.True(guard.Admit("PromptActors.X", 4, new IOException()).WithStackTrace);
        Assert.True(guard.Admit("PromptActors.X", 4, null).Write);
    }
}
