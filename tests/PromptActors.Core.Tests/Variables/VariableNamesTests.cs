namespace PromptActors.Variables.Tests;

public class VariableNamesTests
{
    [Theory]
    [InlineData("a")]
    [InlineData("_")]
    [InlineData("Z")]
    [InlineData("user_name")]
    [InlineData("user.name")]
    [InlineData("user-name")]
    [InlineData("a1")]
    [InlineData("_1.-")]
    [InlineData("CamelCase")]
    public void Valid_names_are_accepted(string name)
    {
        Assert.True(VariableNames.IsValid(name));
        Assert.True(VariableNames.IsValid(name.AsSpan()));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("1a")]
    [InlineData("-a")]
    [InlineData(".a")]
    [InlineData("a b")]
    [InlineData(" a")]
    [InlineData("a ")]
    [InlineData("a!")]
    [InlineData("a{")]
    [InlineData("a}")]
    [InlineData("é")]
    [InlineData("aé")]
    [InlineData("a\t")]
    [InlineData("a/b")]
    [InlineData("ａ")] // full-width letter
    public void Invalid_names_are_rejected(string? name)
    {
        Assert.False(VariableNames.IsValid(name));
        Assert.False(VariableNames.IsValid((name ?? string.Empty).AsSpan()));
    }

    [Fact]
    public void Names_up_to_max_length_are_valid_and_longer_ones_are_not()
    {
        Assert.Equal(128, VariableNames.MaxLength);
        Assert.True(VariableNames.IsValid(new string('a', VariableNames.MaxLength)));
        Assert.False(VariableNames.IsValid(new string('a', VariableNames.MaxLength + 1)));
    }
}
