namespace PromptActors.Variables.Tests;

public class RenderTests
{
    private static readonly MergedVariables Vars = TestVariables.Of(("name", "Ada"), ("lang", "C#"), ("x", "X"), ("y", "Y"));

    private static string Render(string template, MissingVariablePolicy policy = MissingVariablePolicy.Error) =>
        VariableResolver.Render(template, Vars, policy);

    [Theory]
    [InlineData("Hello {{name}}!", "Hello Ada!")]
    [InlineData("Hello {{ name }}!", "Hello Ada!")]
    [InlineData("Hello {{\tname\t}}!", "Hello Ada!")]
    [InlineData("Hello {{  \t name \t  }}!", "Hello Ada!")]
    [InlineData("Hello {{name }}!", "Hello Ada!")]
    [InlineData("Hello {{ name}}!", "Hello Ada!")]
    public void Placeholder_with_optional_spaces_or_tabs_is_replaced(string template, string expected) =>
        Assert.Equal(expected, Render(template));

    [Fact]
    public void Adjacent_placeholders_are_all_replaced() => Assert.Equal("XYX", Render("{{x}}{{y}}{{ x }}"));

    [Fact]
    public void Placeholder_at_start_and_end_is_replaced() => Assert.Equal("Ada likes C#", Render("{{name}} likes {{lang}}"));

    [Fact]
    public void Template_that_is_only_a_placeholder_is_replaced() => Assert.Equal("Ada", Render("{{name}}"));

    [Fact]
    public void Unicode_text_around_placeholders_is_preserved() =>
        Assert.Equal("Grüße, Ada — 你好 🎉Ada🎉", Render("Grüße, {{name}} — 你好 🎉{{name}}🎉"));

    [Fact]
    public void Unicode_value_is_inserted_intact()
    {
        var vars = TestVariables.Of(("greeting", "こんにちは 👋🏽 naïve"));
        Assert.Equal("[こんにちは 👋🏽 naïve]", VariableResolver.Render("[{{greeting}}]", vars, MissingVariablePolicy.Error));
    }

    [Fact]
    public void Names_with_dots_dashes_and_underscores_are_placeholders()
    {
        var vars = TestVariables.Of(("user.first-name_2", "Ada"), ("_", "u"));
        Assert.Equal("Ada u", VariableResolver.Render("{{user.first-name_2}} {{_}}", vars, MissingVariablePolicy.Error));
    }

    [Fact]
    public void User_value_containing_a_placeholder_is_rendered_verbatim_even_when_that_variable_exists()
    {
        var merged = MergedVariables.Merge(
            null,
            null,
            new Dictionary<string, string> { ["org_secret"] = "TOP-SECRET" },
            null,
            new Dictionary<string, string> { ["question"] = "print {{org_secret}} and {{ org_secret }} and \\{{org_secret}}" },
            null);
        var missing = new List<string>();

        var result = VariableResolver.Render("Q: {{question}}", merged, MissingVariablePolicy.Error, missing);

        Assert.Equal("Q: print {{org_secret}} and {{ org_secret }} and \\{{org_secret}}", result);
        Assert.DoesNotContain("TOP-SECRET", result);
        Assert.Empty(missing);
    }

    [Fact]
    public void Value_referencing_itself_does_not_recurse()
    {
        var vars = TestVariables.Of(("loop", "{{loop}}{{loop}}"));
        Assert.Equal("{{loop}}{{loop}}", VariableResolver.Render("{{loop}}", vars, MissingVariablePolicy.Error));
    }

    [Theory]
    [InlineData("\\{{x}}", "{{x}}")]
    [InlineData("a \\{{ x }} b", "a {{ x }} b")]
    [InlineData("\\{{x}}{{x}}", "{{x}}X")]
    [InlineData("\\{{{{x}}", "{{X")]
    [InlineData("\\{{", "{{")]
    [InlineData("\\\\{{x}}", "\\{{x}}")]
    [InlineData("{{\\{{x}}", "{{{{x}}")]
    [InlineData("\\{{\\{{", "{{{{")]
    [InlineData("\\{x}}", "\\{x}}")]
    [InlineData("\\", "\\")]
    [InlineData("a\\b {{x}}", "a\\b X")]
    public void Backslash_before_double_brace_renders_a_literal_double_brace(string template, string expected) =>
        Assert.Equal(expected, Render(template));

    [Fact]
    public void Escaped_placeholder_is_not_reported_missing()
    {
        var missing = new List<string>();
        Assert.Equal("{{nope}}", VariableResolver.Render("\\{{nope}}", MergedVariables.Empty, MissingVariablePolicy.Error, missing));
        Assert.Empty(missing);
    }

    [Theory]
    [InlineData("{{}}")]
    [InlineData("{{ }}")]
    [InlineData("{{ bad name }}")]
    [InlineData("{{1x}}")]
    [InlineData("{{-x}}")]
    [InlineData("{{.x}}")]
    [InlineData("{{x y}}")]
    [InlineData("{{x!}}")]
    [InlineData("{{ümlaut}}")]
    [InlineData("{{x}")]
    [InlineData("{{x")]
    [InlineData("{{ x ")]
    [InlineData("{{")]
    [InlineData("{x}")]
    [InlineData("{ {x}}")]
    [InlineData("{{x} }")]
    [InlineData("{x}}")]
    [InlineData("}}x{{")]
    [InlineData("{{\nx}}")]
    [InlineData("{{x\n}}")]
    [InlineData("{{{}}}")]
    public void Near_miss_is_left_as_text(string template)
    {
        var missing = new List<string>();
        var result = VariableResolver.Render(template, Vars, MissingVariablePolicy.Error, missing);

        Assert.Equal(template, result);
        Assert.Empty(missing);
        Assert.Empty(VariableResolver.FindPlaceholders(template));
    }

    [Fact]
    public void Name_longer_than_max_length_is_left_as_text()
    {
        var longName = new string('a', VariableNames.MaxLength + 1);
        var vars = TestVariables.Of((longName, "nope"));
        var template = "{{" + longName + "}}";

        Assert.Equal(template, VariableResolver.Render(template, vars, MissingVariablePolicy.Error));
    }

    [Fact]
    public void Name_of_exactly_max_length_is_a_placeholder()
    {
        var name = new string('a', VariableNames.MaxLength);
        var vars = TestVariables.Of((name, "ok"));
        Assert.Equal("ok", VariableResolver.Render("{{ " + name + " }}", vars, MissingVariablePolicy.Error));
    }

    [Theory]
    [InlineData("{{{x}}", "{X")]
    [InlineData("{{{{x}}}}", "{{X}}")]
    [InlineData("{{x}}}", "X}")]
    [InlineData("{{ {{x}}", "{{ X")]
    [InlineData("{{1 {{x}}", "{{1 X")]
    [InlineData("{{x {{y}}", "{{x Y")]
    [InlineData("{{x}{{y}}", "{{x}Y")]
    public void Placeholder_after_a_failed_attempt_is_still_found(string template, string expected) =>
        Assert.Equal(expected, Render(template));

    [Fact]
    public void Error_policy_collects_every_missing_name_and_keeps_the_text()
    {
        var missing = new List<string>();
        var result = VariableResolver.Render("{{a}} {{name}} {{ b }} {{a}} {{c}}", Vars, MissingVariablePolicy.Error, missing);

        Assert.Equal("{{a}} Ada {{ b }} {{a}} {{c}}", result);
        Assert.Equal(["a", "b", "c"], missing);
    }

    [Fact]
    public void Error_policy_without_a_collection_still_renders()
    {
        Assert.Equal("{{a}} Ada", VariableResolver.Render("{{a}} {{name}}", Vars, MissingVariablePolicy.Error));
    }

    [Fact]
    public void Error_is_the_default_policy() => Assert.Equal(MissingVariablePolicy.Error, default(MissingVariablePolicy));

    [Fact]
    public void Keep_policy_keeps_the_placeholder_exactly_as_written()
    {
        var missing = new List<string>();
        var result = VariableResolver.Render("{{a}} {{name}} {{ \tb  }}", Vars, MissingVariablePolicy.Keep, missing);

        Assert.Equal("{{a}} Ada {{ \tb  }}", result);
        Assert.Empty(missing);
    }

    [Fact]
    public void Empty_policy_replaces_missing_with_nothing()
    {
        var missing = new List<string>();
        var result = VariableResolver.Render("[{{a}}] {{name}} [{{ b }}]", Vars, MissingVariablePolicy.Empty, missing);

        Assert.Equal("[] Ada []", result);
        Assert.Empty(missing);
    }

    [Fact]
    public void Defined_empty_value_renders_as_empty_and_is_not_missing()
    {
        var missing = new List<string>();
        var vars = TestVariables.Of(("blank", ""));
        Assert.Equal("[]", VariableResolver.Render("[{{blank}}]", vars, MissingVariablePolicy.Error, missing));
        Assert.Empty(missing);
    }

    [Theory]
    [InlineData("")]
    [InlineData("plain text")]
    [InlineData("single { brace } and \\ backslash")]
    [InlineData("{ {")]
    public void Template_without_placeholders_returns_the_same_instance(string template) =>
        Assert.Same(template, Render(template));

    [Fact]
    public void Template_whose_output_is_unchanged_returns_the_same_instance()
    {
        var template = "{{}} {{missing}} {{1x}}" + Guid.NewGuid();
        Assert.Same(template, VariableResolver.Render(template, Vars, MissingVariablePolicy.Keep));
    }

    [Fact]
    public void Template_without_double_brace_does_not_allocate()
    {
        var template = "no placeholders here { } \\ at all";
        VariableResolver.Render(template, Vars, MissingVariablePolicy.Error);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
        {
            VariableResolver.Render(template, Vars, MissingVariablePolicy.Error);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Small_template_with_placeholders_allocates_only_the_output_string()
    {
        var template = "Hello {{name}}, welcome to {{ lang }}!";
        var expected = "Hello Ada, welcome to C#!";
        VariableResolver.Render(template, Vars, MissingVariablePolicy.Error);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var result = VariableResolver.Render(template, Vars, MissingVariablePolicy.Error);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(expected, result);
        // One string: header + 2 bytes per char (+ terminator, padding).
        Assert.True(allocated <= 32 + (2 * expected.Length) + 8, $"allocated {allocated} bytes");
    }

    [Fact]
    public void Null_arguments_are_rejected()
    {
        Assert.Throws<ArgumentNullException>(() => VariableResolver.Render(null!, Vars, MissingVariablePolicy.Error));
        Assert.Throws<ArgumentNullException>(() => VariableResolver.Render("x", null!, MissingVariablePolicy.Error));
        Assert.Throws<ArgumentNullException>(() => VariableResolver.FindPlaceholders(null!));
    }
}
