namespace PromptActors.Variables;

/// <summary>Kind of a significant token found in a template.</summary>
internal enum TemplateTokenKind
{
    /// <summary>An escaped opener <c>\{{</c> that renders as a literal <c>{{</c>.</summary>
    Escape,

    /// <summary>A well-formed placeholder <c>{{ name }}</c>.</summary>
    Placeholder,
}

/// <summary>A significant token: the range <c>[Start, End)</c> of the template it covers and, for placeholders, the name range.</summary>
internal readonly record struct TemplateToken(TemplateTokenKind Kind, int Start, int End, int NameStart, int NameLength);

/// <summary>
/// Linear-time scanner shared by rendering and placeholder discovery.
/// Grammar: <c>{{</c> [spaces/tabs] name [spaces/tabs] <c>}}</c>; a backslash directly before <c>{{</c> escapes it.
/// Anything else is literal text.
/// </summary>
internal static class PlaceholderScanner
{
    /// <summary>
    /// Finds the next escape or placeholder at or after <paramref name="searchFrom"/>. <paramref name="literalStart"/> is where
    /// the not-yet-consumed text begins (a backslash before it was already consumed and cannot escape).
    /// On success <paramref name="searchFrom"/> is advanced past the token.
    /// </summary>
    public static bool TryFindNext(ReadOnlySpan<char> text, int literalStart, ref int searchFrom, out TemplateToken token)
    {
        while (searchFrom <= text.Length - 2)
        {
            int open;
            if (text[searchFrom] == '{' && text[searchFrom + 1] == '{')
            {
                // Cheap path for runs of braces, which is what a failed attempt usually stops on.
                open = searchFrom;
            }
            else
            {
                var rel = text[searchFrom..].IndexOf("{{", StringComparison.Ordinal);
                if (rel < 0)
                {
                    break;
                }

                open = searchFrom + rel;
            }

            if (open > literalStart && text[open - 1] == '\\')
            {
                token = new TemplateToken(TemplateTokenKind.Escape, open - 1, open + 2, 0, 0);
                searchFrom = open + 2;
                return true;
            }

            if (TryParseAt(text, open, out token, out var failAt))
            {
                searchFrom = token.End;
                return true;
            }

            // Every character in [open + 2, failAt) was whitespace, a name character or '}' — none is '{'. So no "{{"
            // can start in [open + 1, failAt - 2]; resuming at failAt - 1 (>= open + 1) skips nothing and never
            // rescans those characters, which keeps the whole scan linear.
            searchFrom = failAt - 1;
        }

        searchFrom = text.Length;
        token = default;
        return false;
    }

    /// <summary>Parses a placeholder whose <c>{{</c> starts at <paramref name="open"/>; on failure reports the first offending index.</summary>
    private static bool TryParseAt(ReadOnlySpan<char> text, int open, out TemplateToken token, out int failAt)
    {
        token = default;
        var n = text.Length;
        var i = SkipBlanks(text, open + 2);

        if (i >= n || !VariableNames.IsStartChar(text[i]))
        {
            failAt = i;
            return false;
        }

        var nameStart = i++;
        var limit = Math.Min(n, nameStart + VariableNames.MaxLength + 1);
        while (i < limit && VariableNames.IsPartChar(text[i]))
        {
            i++;
        }

        var nameLength = i - nameStart;
        if (nameLength > VariableNames.MaxLength)
        {
            failAt = i;
            return false;
        }

        i = SkipBlanks(text, i);
        if (i + 1 < n && text[i] == '}' && text[i + 1] == '}')
        {
            token = new TemplateToken(TemplateTokenKind.Placeholder, open, i + 2, nameStart, nameLength);
            failAt = 0;
            return true;
        }

        failAt = i;
        return false;
    }

    private static int SkipBlanks(ReadOnlySpan<char> text, int i)
    {
        while (i < text.Length && text[i] is ' ' or '\t')
        {
            i++;
        }

        return i;
    }
}
