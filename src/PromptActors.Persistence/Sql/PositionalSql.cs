using System.Collections.Concurrent;
using System.Text;

namespace PromptActors.Persistence.Sql;

/// <summary>
/// A statement's text with its <c>@name</c> parameters turned into PostgreSQL's <c>$1</c>, <c>$2</c>, … (each name one
/// number, in order of first use), computed once per text. Npgsql parses and rewrites named parameters on every
/// execution (for the run store's long statements, the largest share of what a run-row write allocated); with positional
/// ones it sends the text unchanged. Quoted literals, quoted identifiers and line comments are left alone.
/// </summary>
internal sealed record PositionalSql(string Text, IReadOnlyList<string> Names)
{
    private static readonly ConcurrentDictionary<string, PositionalSql> Cache = new(StringComparer.Ordinal);

    public static PositionalSql For(string text) => Cache.GetOrAdd(text, Rewrite);

    internal static PositionalSql Rewrite(string text)
    {
        var names = new List<string>();
        var sql = new StringBuilder(text.Length);
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            if (c == '-' && i + 1 < text.Length && text[i + 1] == '-')
            {
                var end = text.IndexOf('\n', i);
                end = end < 0 ? text.Length : end;
                sql.Append(text, i, end - i);
                i = end;
                continue;
            }
            if (c is '\'' or '"')
            {
                var end = text.IndexOf(c, i + 1);
                end = end < 0 ? text.Length - 1 : end;
                sql.Append(text, i, end - i + 1);
                i = end + 1;
                continue;
            }
            if (c == '@' && i + 1 < text.Length && (char.IsLetter(text[i + 1]) || text[i + 1] == '_')
                && (i == 0 || !(char.IsLetterOrDigit(text[i - 1]) || text[i - 1] is '_' or '@')))
            {
                var start = i + 1;
                var end = start;
                while (end < text.Length && (char.IsLetterOrDigit(text[end]) || text[end] == '_'))
                    end++;
                var name = text[start..end];
                var index = names.IndexOf(name);
                if (index < 0)
                {
                    names.Add(name);
                    index = names.Count - 1;
                }
                sql.Append('$').Append(index + 1);
                i = end;
                continue;
            }
            sql.Append(c);
            i++;
        }
        return new PositionalSql(sql.ToString(), names);
    }
}
