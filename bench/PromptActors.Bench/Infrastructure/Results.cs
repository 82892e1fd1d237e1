using System.Globalization;
using System.Text;

namespace PromptActors.Bench.Infrastructure;

/// <summary>One table of a scenario's results (rendered as Markdown on the console and in RESULTS.md).</summary>
public sealed class ResultTable(string title, params string[] columns)
{
    private readonly List<string[]> _rows = new();

    public string Title { get; } = title;
    public IReadOnlyList<string> Columns { get; } = columns;
    public IReadOnlyList<string[]> Rows => _rows;

    public ResultTable Row(params string[] cells)
    {
        if (cells.Length != Columns.Count)
            throw new ArgumentException($"row has {cells.Length} cells, table '{Title}' has {Columns.Count} columns");
        _rows.Add(cells);
        return this;
    }

    public string ToMarkdown()
    {
        var sb = new StringBuilder();
        if (Title.Length > 0)
            sb.Append("**").Append(Title).AppendLine("**").AppendLine();
        sb.Append("| ").AppendJoin(" | ", Columns).AppendLine(" |");
        sb.Append('|').AppendJoin("|", Columns.Select(c => IsNumericColumn(c) ? "---:" : "---")).AppendLine("|");
        foreach (var row in _rows)
            sb.Append("| ").AppendJoin(" | ", row).AppendLine(" |");
        return sb.ToString();
    }

    private static bool IsNumericColumn(string name) => name is not ("metric" or "phase" or "path" or "target" or "verdict" or "what");
}

/// <summary>What a scenario produced: tables for people, named figures for the smoke tests.</summary>
public sealed class ScenarioResult(string scenario)
{
    public string Scenario { get; } = scenario;
    public List<ResultTable> Tables { get; } = new();
    public Dictionary<string, double> Figures { get; } = new(StringComparer.Ordinal);
    public List<string> Notes { get; } = new();

    public ResultTable Table(string title, params string[] columns)
    {
        var table = new ResultTable(title, columns);
        Tables.Add(table);
        return table;
    }

    public void Figure(string name, double value) => Figures[name] = value;

    public string ToMarkdown()
    {
        var sb = new StringBuilder();
        foreach (var t in Tables)
            sb.AppendLine(t.ToMarkdown());
        foreach (var n in Notes)
            sb.Append("- ").AppendLine(n);
        return sb.ToString();
    }
}

/// <summary>Number formatting shared by the scenarios (invariant culture).</summary>
public static class Fmt
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static string N0(double v) => double.IsFinite(v) ? v.ToString("#,0", Inv) : "n/a";
    public static string N1(double v) => double.IsFinite(v) ? v.ToString("#,0.0", Inv) : "n/a";
    public static string N2(double v) => double.IsFinite(v) ? v.ToString("#,0.00", Inv) : "n/a";
    public static string N3(double v) => double.IsFinite(v) ? v.ToString("#,0.000", Inv) : "n/a";
    public static string Ms(double v) => double.IsFinite(v) ? (v < 10 ? v.ToString("0.00", Inv) : v.ToString("#,0.0", Inv)) + " ms" : "n/a";
    public static string Pct(double ratio) => double.IsFinite(ratio) ? (ratio * 100).ToString("0.0", Inv) + " %" : "n/a";
    public static string Ratio(double ratio) => double.IsFinite(ratio) ? ratio.ToString("0.00", Inv) + "×" : "n/a";
    public static string Bytes(double v) => !double.IsFinite(v) ? "n/a"
        : Math.Abs(v) >= 1024 * 1024 ? (v / 1024 / 1024).ToString("#,0.0", Inv) + " MiB"
        : Math.Abs(v) >= 1024 ? (v / 1024).ToString("#,0.00", Inv) + " KiB"
        : v.ToString("#,0", Inv) + " B";
    public static string Verdict(bool met) => met ? "met" : "**missed**";
}
