using System.Text;

namespace PromptActors.Variables.Tests;

public class HostileInputTests
{
    private const int OneMb = 1024 * 1024;

    private static readonly MergedVariables Vars = TestVariables.Of(("x", "X"), ("a", "A"));

    [Fact]
    public void TryRender_stops_at_the_limit_instead_of_building_a_huge_string()
    {
        // 52,000 placeholders of a 256 KiB value would render to about 13.6 billion characters.
        var vars = TestVariables.Of(("a", new string('v', 256 * 1024)));
        var template = string.Concat(Enumerable.Repeat("{{a}}", 52_000));
        var allocated = GC.GetAllocatedBytesForCurrentThread();

        Assert.False(VariableResolver.TryRender(template, vars, MissingVariablePolicy.Error, OneMb, out _));

        Assert.True(GC.GetAllocatedBytesForCurrentThread() - allocated < 16 * OneMb, "the refusal built too much first");
    }

    [Theory]
    [InlineData("{{a}}{{a}}", 6, true, "AAAAAA")]
    [InlineData("{{a}}{{a}}", 5, false, null)]
    [InlineData("x{{a}}y", 5, true, "xAAAy")]
    [InlineData("x{{a}}yz", 5, false, null)]
    [InlineData("no placeholders", 15, true, "no placeholders")]
    [InlineData("no placeholders", 14, false, null)]
    [InlineData("{{missing}} kept", 16, true, "{{missing}} kept")]
    [InlineData("{{missing}} kept", 15, false, null)]
    public void TryRender_counts_every_character_of_the_result(string template, int max, bool fits, string? expected)
    {
        var vars = TestVariables.Of(("a", "AAA"));

        Assert.Equal(fits, VariableResolver.TryRender(template, vars, MissingVariablePolicy.Keep, max, out var rendered));
        if (fits)
            Assert.Equal(expected, rendered);
    }

    [Theory]
    [InlineData(OneMb)]
    [InlineData(4 * OneMb)]
    public void Only_open_braces_is_left_unchanged(int length)
    {
        var template = new string('{', length);
        var missing = new List<string>();

        Assert.Same(template, VariableResolver.Render(template, Vars, MissingVariablePolicy.Error, missing));
        Assert.Empty(missing);
        Assert.Empty(VariableResolver.FindPlaceholders(template));
    }

    [Theory]
    [InlineData(OneMb)]
    [InlineData(4 * OneMb)]
    public void Unclosed_open_followed_by_a_huge_name_is_left_unchanged(int length)
    {
        var template = "{{" + new string('a', length);
        Assert.Same(template, VariableResolver.Render(template, Vars, MissingVariablePolicy.Error));

        var closed = template + "}} {{x}}";
        Assert.Equal(template + "}} X", VariableResolver.Render(closed, Vars, MissingVariablePolicy.Error));
    }

    [Theory]
    [InlineData(OneMb)]
    [InlineData(4 * OneMb)]
    public void Repeated_open_with_space_is_left_unchanged(int length)
    {
        var template = Repeat("{{ ", length);
        Assert.Same(template, VariableResolver.Render(template, Vars, MissingVariablePolicy.Keep));

        var withPlaceholder = template + "{{x}}";
        Assert.Equal(template + "X", VariableResolver.Render(withPlaceholder, Vars, MissingVariablePolicy.Keep));
    }

    [Theory]
    [InlineData(OneMb)]
    [InlineData(4 * OneMb)]
    public void Repeated_escapes_become_literal_double_braces(int length)
    {
        var count = length / 3;
        var template = Repeat("\\{{", count * 3);
        var rendered = VariableResolver.Render(template, Vars, MissingVariablePolicy.Error);

        Assert.Equal(count * 2, rendered.Length);
        Assert.Equal(Repeat("{{", count * 2), rendered);
        Assert.Empty(VariableResolver.FindPlaceholders(template));
    }

    [Theory]
    [InlineData(OneMb)]
    [InlineData(4 * OneMb)]
    public void Deeply_nested_braces_resolve_only_the_innermost_placeholder(int length)
    {
        var depth = length / 2;
        var template = new string('{', depth) + "x" + new string('}', depth);
        var rendered = VariableResolver.Render(template, Vars, MissingVariablePolicy.Error);

        Assert.Equal(new string('{', depth - 2) + "X" + new string('}', depth - 2), rendered);
    }

    [Theory]
    [InlineData(OneMb)]
    [InlineData(4 * OneMb)]
    public void Many_unclosed_names_stay_text(int length)
    {
        var template = Repeat("{{ aaaaaaaa ", length);
        Assert.Same(template, VariableResolver.Render(template, Vars, MissingVariablePolicy.Error));
    }

    [Theory]
    [InlineData(OneMb)]
    [InlineData(4 * OneMb)]
    public void Many_over_long_names_stay_text(int length)
    {
        var template = Repeat("{{" + new string('a', VariableNames.MaxLength + 5), length);
        Assert.Same(template, VariableResolver.Render(template, Vars, MissingVariablePolicy.Error));
    }

    [Theory]
    [InlineData(OneMb)]
    [InlineData(4 * OneMb)]
    public void Open_then_huge_blank_run_stays_text(int length)
    {
        var template = "{{" + new string(' ', length) + "x" + new string('\t', length) + "}";
        Assert.Same(template, VariableResolver.Render(template, Vars, MissingVariablePolicy.Error));

        var closed = template + "}";
        Assert.Equal("X", VariableResolver.Render(closed, Vars, MissingVariablePolicy.Error));
    }

    [Theory]
    [InlineData(OneMb)]
    [InlineData(4 * OneMb)]
    public void Many_placeholders_are_all_replaced(int length)
    {
        var template = Repeat("{{x}}", length);
        var rendered = VariableResolver.Render(template, Vars, MissingVariablePolicy.Error);
        Assert.Equal(new string('X', length / 5), rendered);
    }

    [Theory]
    [InlineData(OneMb)]
    [InlineData(4 * OneMb)]
    public void Many_distinct_missing_names_are_each_reported_once(int length)
    {
        var sb = new StringBuilder(length + 32);
        var n = 0;
        while (sb.Length < length)
        {
            sb.Append("{{m").Append(n % 50_000).Append("}}");
            n++;
        }

        var missing = new List<string>();
        var template = sb.ToString();
        Assert.Same(template, VariableResolver.Render(template, Vars, MissingVariablePolicy.Error, missing));
        Assert.Equal(Math.Min(n, 50_000), missing.Count);
        Assert.Equal(missing, VariableResolver.FindPlaceholders(template));
    }

    [Theory]
    [InlineData(OneMb)]
    [InlineData(4 * OneMb)]
    public void Random_unicode_completes(int length)
    {
        var random = new Random(12345);
        var chars = new char[length];
        for (var i = 0; i < chars.Length; i++)
        {
            chars[i] = random.Next(10) switch
            {
                0 => '{',
                1 => '}',
                2 => '\\',
                3 => ' ',
                4 => 'x',
                _ => (char)random.Next(0x80, 0xFFFF),
            };
        }

        var template = new string(chars);
        var rendered = VariableResolver.Render(template, Vars, MissingVariablePolicy.Empty);
        Assert.True(rendered.Length <= template.Length);
        var keep = VariableResolver.Render(template, MergedVariables.Empty, MissingVariablePolicy.Keep);
        Assert.Equal(template.Replace("\\{{", "{{", StringComparison.Ordinal), keep);
    }

    private static string Repeat(string unit, int length)
    {
        var sb = new StringBuilder(length + unit.Length);
        while (sb.Length + unit.Length <= length)
        {
            sb.Append(unit);
        }

        return sb.ToString();
    }
}
