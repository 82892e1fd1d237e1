namespace PromptActors.Variables;

/// <summary>Validation of variable names: <c>[A-Za-z_][A-Za-z0-9_.-]*</c>, 1 to <see cref="MaxLength"/> characters.</summary>
public static class VariableNames
{
    /// <summary>Maximum length of a variable name.</summary>
    public const int MaxLength = 128;

    /// <summary>Returns true when <paramref name="name"/> is a valid variable name.</summary>
    public static bool IsValid(string? name) => name is not null && IsValid(name.AsSpan());

    /// <summary>Returns true when <paramref name="name"/> is a valid variable name.</summary>
    public static bool IsValid(ReadOnlySpan<char> name)
    {
        if (name.IsEmpty || name.Length > MaxLength || !IsStartChar(name[0]))
        {
            return false;
        }

        for (var i = 1; i < name.Length; i++)
        {
            if (!IsPartChar(name[i]))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Returns true when <paramref name="c"/> may start a name.</summary>
    internal static bool IsStartChar(char c) => char.IsAsciiLetter(c) || c == '_';

    /// <summary>Returns true when <paramref name="c"/> may appear after the first character of a name.</summary>
    internal static bool IsPartChar(char c) => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-';
}
