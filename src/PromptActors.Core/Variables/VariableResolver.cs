namespace PromptActors.Variables;

/// <summary>Renders <c>{{name}}</c> placeholders in a template in a single, linear-time pass.</summary>
/// <remarks>
/// Substituted values are inserted verbatim and never rescanned, so a value containing <c>{{other}}</c> cannot pull in
/// another variable. <c>\{{</c> renders a literal <c>{{</c>. Malformed placeholders are left as text.
/// </remarks>
public static class VariableResolver
{
    private const int StackBufferSize = 256;

    /// <summary>Replaces every placeholder in <paramref name="template"/> with its merged value, handling undefined names per <paramref name="policy"/>.</summary>
    /// <param name="template">The template text.</param>
    /// <param name="variables">The merged variables to substitute.</param>
    /// <param name="policy">What to do with placeholders whose variable is undefined.</param>
    /// <param name="missing">Receives each undefined name (once per call) when <paramref name="policy"/> is <see cref="MissingVariablePolicy.Error"/>.</param>
    /// <returns>The rendered text; the same instance as <paramref name="template"/> when nothing changed.</returns>
    public static string Render(string template, MergedVariables variables, MissingVariablePolicy policy, ICollection<string>? missing = null) =>
        RenderCore(template, variables, policy, missing, Array.MaxLength)
        ?? throw new OutOfMemoryException("Rendered template is too large.");

    /// <summary>
    /// Like <see cref="Render"/>, but stops as soon as the result would be longer than <paramref name="maxLength"/>
    /// characters and returns false, so a few placeholders of a large value cannot make the caller build a huge string.
    /// </summary>
    public static bool TryRender(string template, MergedVariables variables, MissingVariablePolicy policy, int maxLength,
        out string rendered, ICollection<string>? missing = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxLength);
        rendered = RenderCore(template, variables, policy, missing, maxLength)!;
        return rendered is not null;
    }

    private static string? RenderCore(string template, MergedVariables variables, MissingVariablePolicy policy,
        ICollection<string>? missing, int maxLength)
    {
        ArgumentNullException.ThrowIfNull(template);
        ArgumentNullException.ThrowIfNull(variables);

        ReadOnlySpan<char> text = template;
        var search = 0;
        if (!PlaceholderScanner.TryFindNext(text, 0, ref search, out var token))
        {
            return template.Length <= maxLength ? template : null;
        }

        var builder = new ValueStringBuilder(stackalloc char[StackBufferSize]);
        builder.EnsureCapacity(template.Length);
        try
        {
            var literalStart = 0;
            var changed = false;
            HashSet<string>? reported = null;

            do
            {
                builder.Append(text[literalStart..token.Start]);

                if (token.Kind == TemplateTokenKind.Escape)
                {
                    builder.Append("{{");
                    changed = true;
                }
                else
                {
                    var name = text.Slice(token.NameStart, token.NameLength);
                    if (variables.TryGet(name, out var resolved))
                    {
                        if (resolved.Value.Length > maxLength - builder.Length)
                        {
                            return null;
                        }

                        builder.Append(resolved.Value);
                        changed = true;
                    }
                    else if (policy == MissingVariablePolicy.Empty)
                    {
                        changed = true;
                    }
                    else
                    {
                        builder.Append(text[token.Start..token.End]);
                        if (policy == MissingVariablePolicy.Error && missing is not null)
                        {
                            reported ??= new HashSet<string>(StringComparer.Ordinal);
                            if (!reported.GetAlternateLookup<ReadOnlySpan<char>>().Contains(name))
                            {
                                var nameString = name.ToString();
                                reported.Add(nameString);
                                missing.Add(nameString);
                            }
                        }
                    }
                }

                literalStart = token.End;
            }
            while (PlaceholderScanner.TryFindNext(text, literalStart, ref search, out token));

            if (!changed)
            {
                return template.Length <= maxLength ? template : null;
            }

            if (text.Length - literalStart > maxLength - builder.Length)
            {
                return null;
            }

            builder.Append(text[literalStart..]);
            return builder.ToString();
        }
        finally
        {
            builder.Dispose();
        }
    }

    /// <summary>Returns the distinct placeholder names referenced by <paramref name="template"/>, in order of first appearance (escapes excluded).</summary>
    public static IReadOnlyList<string> FindPlaceholders(string template)
    {
        ArgumentNullException.ThrowIfNull(template);

        ReadOnlySpan<char> text = template;
        var search = 0;
        var literalStart = 0;
        List<string>? names = null;
        HashSet<string>? seen = null;

        while (PlaceholderScanner.TryFindNext(text, literalStart, ref search, out var token))
        {
            literalStart = token.End;
            if (token.Kind != TemplateTokenKind.Placeholder)
            {
                continue;
            }

            var name = text.Slice(token.NameStart, token.NameLength);
            seen ??= new HashSet<string>(StringComparer.Ordinal);
            if (seen.GetAlternateLookup<ReadOnlySpan<char>>().Contains(name))
            {
                continue;
            }

            var nameString = name.ToString();
            seen.Add(nameString);
            (names ??= []).Add(nameString);
        }

        return names is null ? [] : names.AsReadOnly();
    }
}
