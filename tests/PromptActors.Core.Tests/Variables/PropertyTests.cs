using System.Text;
using System.Text.RegularExpressions;
using CsCheck;

namespace PromptActors.Variables.Tests;

public class PropertyTests
{
    private const string NameStartChars = "abcxyzABZ_";
    private const string NamePartChars = "abcxyzABZ019_.-";

    private static readonly Gen<string> GenName =
        Gen.Select(Gen.Char[NameStartChars], Gen.Char[NamePartChars].Array[0, 8], (first, rest) => first + new string(rest));

    private static readonly Gen<string> GenBlanks = Gen.Char[" \t"].Array[0, 2].Select(a => new string(a));

    // Values may contain placeholder syntax, escapes and unicode: they must be inserted verbatim.
    private static readonly Gen<string> GenValue = Gen.OneOf(
        Gen.Char["ab{}\\ é"].Array[0, 12].Select(a => new string(a)),
        Gen.Const("{{org_secret}}"),
        Gen.Const("\\{{x}}"),
        Gen.Const("{{ a }}{{b}}"),
        Gen.Const("😀 {{"));

    // Literal text: no '{' and no '\', so it can never start a placeholder or an escape.
    private static readonly Gen<string> GenLiteral = Gen.Char["ab }\t\n.-_éü€"].Array[0, 10].Select(a => new string(a));

    private static readonly Gen<(string Literal, string Name, string Value, string Before, string After)> GenSegment =
        Gen.Select(GenLiteral, GenName, GenValue, GenBlanks, GenBlanks);

    private static readonly Gen<string> GenHostile =
        Gen.Char["{{{{}}}}\\\\  \tabcZ_1.-é"].Array[0, 60].Select(a => new string(a));

    // Independent oracle (test-only): leftmost-first regex for "\{{" or a placeholder.
    private static readonly Regex Oracle = new(
        @"\\\{\{|\{\{[ \t]*(?<name>[A-Za-z_][A-Za-z0-9_.\-]{0,127})[ \t]*\}\}",
        RegexOptions.CultureInvariant);

    [Fact]
    public void Rendering_random_literals_and_placeholders_equals_concatenation_of_literals_and_values()
    {
        Gen.Select(GenSegment.Array[0, 8], GenLiteral).Sample((segments, tail) =>
        {
            var values = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var s in segments)
            {
                values.TryAdd(s.Name, s.Value);
            }

            // Make sure names used in values also exist, to prove values are not rescanned.
            values.TryAdd("org_secret", "LEAK");
            values.TryAdd("a", "LEAK");
            values.TryAdd("b", "LEAK");
            values.TryAdd("x", "LEAK");

            var template = new StringBuilder();
            var expected = new StringBuilder();
            foreach (var s in segments)
            {
                template.Append(s.Literal).Append("{{").Append(s.Before).Append(s.Name).Append(s.After).Append("}}");
                expected.Append(s.Literal).Append(values[s.Name]);
            }

            template.Append(tail);
            expected.Append(tail);

            var missing = new List<string>();
            var merged = MergedVariables.Merge(null, null, null, null, values, null);
            var rendered = VariableResolver.Render(template.ToString(), merged, MissingVariablePolicy.Error, missing);

            Assert.Equal(expected.ToString(), rendered);
            Assert.Empty(missing);
            Assert.Equal(segments.Select(s => s.Name).Distinct(), VariableResolver.FindPlaceholders(template.ToString()));
        }, iter: 2000);
    }

    [Fact]
    public void Rendering_never_throws_and_matches_the_oracle_for_brace_heavy_strings()
    {
        var vars = TestVariables.Of(("a", "[A{{b}}]"), ("b", "[B]"), ("Z_1", "\\{{a}}"));

        GenHostile.Sample(template =>
        {
            foreach (var policy in Enum.GetValues<MissingVariablePolicy>())
            {
                var missing = new List<string>();
                var rendered = VariableResolver.Render(template, vars, policy, missing);
                Assert.Equal(OracleRender(template, vars, policy), rendered);
            }

            var names = VariableResolver.FindPlaceholders(template);
            var expectedNames = Oracle.Matches(template)
                .Where(m => m.Groups["name"].Success)
                .Select(m => m.Groups["name"].Value)
                .Distinct(StringComparer.Ordinal);
            Assert.Equal(expectedNames, names);
        }, iter: 3000);
    }

    [Fact]
    public void Keep_policy_with_no_variables_returns_input_unchanged_when_there_is_no_escape()
    {
        // Break every "\{" apart so no escape remains while keeping the input brace- and backslash-heavy.
        GenHostile.Select(t => t.Replace("\\{", "\\ {", StringComparison.Ordinal)).Sample(template =>
        {
            Assert.DoesNotContain("\\{{", template, StringComparison.Ordinal);
            var rendered = VariableResolver.Render(template, MergedVariables.Empty, MissingVariablePolicy.Keep);
            Assert.Equal(template, rendered);
        }, iter: 3000);
    }

    [Fact]
    public void Error_policy_reports_exactly_the_distinct_undefined_names()
    {
        GenHostile.Sample(template =>
        {
            var missing = new List<string>();
            VariableResolver.Render(template, MergedVariables.Empty, MissingVariablePolicy.Error, missing);
            Assert.Equal(VariableResolver.FindPlaceholders(template), missing);
        }, iter: 2000);
    }

    [Fact]
    public void Rendering_arbitrary_unicode_never_throws()
    {
        var vars = TestVariables.Of(("a", "{{a}}"));
        Gen.String.Sample(template =>
        {
            var rendered = VariableResolver.Render(template, vars, MissingVariablePolicy.Error);
            Assert.Equal(OracleRender(template, vars, MissingVariablePolicy.Error), rendered);
        }, iter: 2000);
    }

    private static string OracleRender(string template, MergedVariables vars, MissingVariablePolicy policy) =>
        Oracle.Replace(template, m =>
        {
            if (!m.Groups["name"].Success)
            {
                return "{{";
            }

            if (vars.Values.TryGetValue(m.Groups["name"].Value, out var v))
            {
                return v.Value;
            }

            return policy == MissingVariablePolicy.Empty ? string.Empty : m.Value;
        });
}
