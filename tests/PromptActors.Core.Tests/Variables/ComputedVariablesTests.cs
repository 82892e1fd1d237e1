using System.Globalization;
using Microsoft.Extensions.Time.Testing;

namespace PromptActors.Variables.Tests;

public class ComputedVariablesTests
{
    private static readonly DateTimeOffset Instant = new(2025, 3, 7, 21, 4, 9, TimeSpan.FromHours(2)); // 19:04:09 UTC

    [Fact]
    public void Computed_values_use_the_fake_clock_in_utc()
    {
        var time = new FakeTimeProvider(Instant);
        var values = ComputedVariables.Create(time, "inst-1", "prompt-9", "run-3", 12345);

        Assert.Equal("2025-03-07", values[ComputedVariables.CurrentDate]);
        Assert.Equal("2025-03-07T19:04:09Z", values[ComputedVariables.CurrentDateTime]);
        Assert.Equal("19:04", values[ComputedVariables.CurrentTime]);
        Assert.Equal("inst-1", values[ComputedVariables.InstanceId]);
        Assert.Equal("prompt-9", values[ComputedVariables.PromptId]);
        Assert.Equal("run-3", values[ComputedVariables.RunId]);
        Assert.Equal("12345", values[ComputedVariables.MessageCount]);
    }

    [Fact]
    public void Date_rolls_over_in_utc_not_local_time()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2025, 1, 1, 0, 30, 0, TimeSpan.FromHours(5))); // 2024-12-31 19:30 UTC
        var values = ComputedVariables.Create(time, "i", "p", null, 0);

        Assert.Equal("2024-12-31", values[ComputedVariables.CurrentDate]);
        Assert.Equal("19:30", values[ComputedVariables.CurrentTime]);
    }

    [Fact]
    public void Advancing_the_clock_changes_the_next_snapshot()
    {
        var time = new FakeTimeProvider(Instant);
        var first = ComputedVariables.Create(time, "i", "p", null, 0);
        time.Advance(TimeSpan.FromMinutes(1));
        var second = ComputedVariables.Create(time, "i", "p", null, 0);

        Assert.Equal("19:04", first[ComputedVariables.CurrentTime]);
        Assert.Equal("19:05", second[ComputedVariables.CurrentTime]);
    }

    [Fact]
    public void Run_id_is_empty_when_there_is_no_run()
    {
        var values = ComputedVariables.Create(new FakeTimeProvider(Instant), "i", "p", null, 0);
        Assert.Equal(string.Empty, values[ComputedVariables.RunId]);
    }

    [Fact]
    public void Formatting_ignores_the_current_culture()
    {
        var saved = CultureInfo.CurrentCulture;
        try
        {
            CultureInfo.CurrentCulture = new CultureInfo("ar-SA");
            var values = ComputedVariables.Create(new FakeTimeProvider(Instant), "i", "p", null, -1234567);

            Assert.Equal("2025-03-07", values[ComputedVariables.CurrentDate]);
            Assert.Equal("2025-03-07T19:04:09Z", values[ComputedVariables.CurrentDateTime]);
            Assert.Equal("-1234567", values[ComputedVariables.MessageCount]);
        }
        finally
        {
            CultureInfo.CurrentCulture = saved;
        }
    }

    [Fact]
    public void Names_lists_exactly_the_created_keys()
    {
        var values = ComputedVariables.Create(new FakeTimeProvider(Instant), "i", "p", null, 0);

        Assert.Equal(7, ComputedVariables.Names.Count);
        Assert.Equal(ComputedVariables.Names.Order(StringComparer.Ordinal), values.Keys.Order(StringComparer.Ordinal));
        Assert.All(ComputedVariables.Names, n => Assert.True(VariableNames.IsValid(n)));
    }

    [Fact]
    public void Computed_values_render_and_beat_user_values()
    {
        var computed = ComputedVariables.Create(new FakeTimeProvider(Instant), "i", "p", "r", 2);
        var merged = MergedVariables.Merge(
            null, null, null, null, new Dictionary<string, string> { [ComputedVariables.CurrentDate] = "spoofed" }, computed);

        Assert.Equal(
            "Today is 2025-03-07, message 2",
            VariableResolver.Render("Today is {{current_date}}, message {{ message_count }}", merged, MissingVariablePolicy.Error));
        Assert.Equal(VariableSource.Computed, merged.Values[ComputedVariables.CurrentDate].Source);
    }
}
