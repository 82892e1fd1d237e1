namespace PromptActors.Variables.Tests;

public class MergedVariablesTests
{
    public static TheoryData<VariableSource, VariableSource> AllPrecedencePairs()
    {
        var data = new TheoryData<VariableSource, VariableSource>();
        var sources = Enum.GetValues<VariableSource>();
        for (var lo = 0; lo < sources.Length; lo++)
        {
            for (var hi = lo + 1; hi < sources.Length; hi++)
            {
                data.Add(sources[lo], sources[hi]);
            }
        }

        return data;
    }

    [Fact]
    public void There_are_fifteen_precedence_pairs() => Assert.Equal(15, AllPrecedencePairs().Count);

    [Theory]
    [MemberData(nameof(AllPrecedencePairs))]
    public void Higher_layer_beats_lower_layer_and_is_reported_as_source(VariableSource lower, VariableSource higher)
    {
        var merged = TestVariables.FromLayers(new Dictionary<VariableSource, IReadOnlyDictionary<string, string>>
        {
            [lower] = new Dictionary<string, string> { ["x"] = "from-" + lower, ["only_lower"] = "l" },
            [higher] = new Dictionary<string, string> { ["x"] = "from-" + higher, ["only_higher"] = "h" },
        });

        Assert.Equal(new ResolvedValue("from-" + higher, higher), merged.Values["x"]);
        Assert.Equal(new ResolvedValue("l", lower), merged.Values["only_lower"]);
        Assert.Equal(new ResolvedValue("h", higher), merged.Values["only_higher"]);
        Assert.Equal("from-" + higher, VariableResolver.Render("{{x}}", merged, MissingVariablePolicy.Error));
    }

    [Fact]
    public void User_value_beats_org_scope()
    {
        var merged = MergedVariables.Merge(
            null,
            null,
            new Dictionary<string, string> { ["tone"] = "formal" },
            null,
            new Dictionary<string, string> { ["tone"] = "casual" },
            null);

        Assert.True(merged.TryGet("tone", out var value));
        Assert.Equal(new ResolvedValue("casual", VariableSource.UserProvided), value);
    }

    [Fact]
    public void Each_layer_reports_its_own_provenance_when_alone()
    {
        var merged = MergedVariables.Merge(
            new Dictionary<string, string> { ["a"] = "1" },
            new Dictionary<string, string> { ["b"] = "2" },
            new Dictionary<string, string> { ["c"] = "3" },
            new Dictionary<string, string> { ["d"] = "4" },
            new Dictionary<string, string> { ["e"] = "5" },
            new Dictionary<string, string> { ["f"] = "6" });

        Assert.Equal(VariableSource.PromptDefault, merged.Values["a"].Source);
        Assert.Equal(VariableSource.UserScope, merged.Values["b"].Source);
        Assert.Equal(VariableSource.OrgScope, merged.Values["c"].Source);
        Assert.Equal(VariableSource.ProjectScope, merged.Values["d"].Source);
        Assert.Equal(VariableSource.UserProvided, merged.Values["e"].Source);
        Assert.Equal(VariableSource.Computed, merged.Values["f"].Source);
        Assert.Equal(6, merged.Values.Count);
    }

    [Fact]
    public void Keys_are_case_sensitive()
    {
        var merged = MergedVariables.Merge(
            new Dictionary<string, string> { ["Name"] = "upper" },
            null,
            null,
            null,
            new Dictionary<string, string> { ["name"] = "lower" },
            null);

        Assert.Equal(2, merged.Values.Count);
        Assert.Equal("upper", VariableResolver.Render("{{Name}}", merged, MissingVariablePolicy.Error));
        Assert.Equal("lower", VariableResolver.Render("{{name}}", merged, MissingVariablePolicy.Error));
        Assert.False(merged.TryGet("NAME", out _));
    }

    [Fact]
    public void All_null_layers_give_an_empty_set()
    {
        var merged = MergedVariables.Merge(null, null, null, null, null, null);
        Assert.Empty(merged.Values);
        Assert.Empty(MergedVariables.Empty.Values);
        Assert.False(MergedVariables.Empty.TryGet("x", out _));
    }

    [Fact]
    public void TryGet_finds_a_name_given_as_a_slice_of_a_larger_span()
    {
        var merged = TestVariables.Of(("name", "v"));
        var span = "xx name yy".AsSpan(3, 4);

        Assert.True(merged.TryGet(span, out var value));
        Assert.Equal("v", value.Value);
    }

    [Fact]
    public void TryGet_does_not_allocate()
    {
        var merged = TestVariables.Of(("name", "v"));
        var text = "{{name}}".ToCharArray();
        merged.TryGet(text.AsSpan(2, 4), out _); // warm up

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
        {
            merged.TryGet(text.AsSpan(2, 4), out _);
            merged.TryGet(text.AsSpan(0, 3), out _);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Values_cannot_be_mutated_through_a_cast()
    {
        var merged = TestVariables.Of(("a", "1"));
        Assert.False(merged.Values is IDictionary<string, ResolvedValue> { IsReadOnly: false });
    }

    [Fact]
    public void Input_layers_are_copied_not_referenced()
    {
        var layer = new Dictionary<string, string> { ["a"] = "1" };
        var merged = MergedVariables.Merge(null, null, null, null, layer, null);
        layer["a"] = "2";
        layer["b"] = "3";

        Assert.Equal("1", merged.Values["a"].Value);
        Assert.False(merged.TryGet("b", out _));
    }
}
