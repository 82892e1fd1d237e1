namespace PromptActors.Variables.Tests;

public class FindPlaceholdersTests
{
    [Fact]
    public void Distinct_names_are_returned_in_order_of_first_appearance() =>
        Assert.Equal(["b", "a", "c.d"], VariableResolver.FindPlaceholders("{{b}} {{ a }} {{b}} {{c.d}} {{a}}"));

    [Fact]
    public void Escaped_placeholders_are_excluded() =>
        Assert.Equal(["y"], VariableResolver.FindPlaceholders("\\{{x}} {{y}} \\{{ z }}"));

    [Fact]
    public void Near_misses_are_excluded() =>
        Assert.Equal(["ok"], VariableResolver.FindPlaceholders("{{}} {{1x}} {{ bad name }} {x} {{ok}} {{unclosed"));

    [Fact]
    public void Template_without_placeholders_gives_empty_list() => Assert.Empty(VariableResolver.FindPlaceholders("plain"));

    [Fact]
    public void Names_are_case_sensitive() => Assert.Equal(["A", "a"], VariableResolver.FindPlaceholders("{{A}}{{a}}{{A}}"));
}
