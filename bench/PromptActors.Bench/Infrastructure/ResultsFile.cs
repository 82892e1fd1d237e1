using System.Text;

namespace PromptActors.Bench.Infrastructure;

/// <summary>Appends a scenario's tables, the machine and the exact command to bench/RESULTS.md.</summary>
public static class ResultsFile
{
    public static string? Append(ScenarioResult result, string command, TimeSpan elapsed, string machine)
    {
        var root = RepoRoot.Find();
        if (root is null)
            return null;
        var path = Path.Combine(root, "bench", "RESULTS.md");
        var sb = new StringBuilder();
        if (!File.Exists(path))
            sb.AppendLine("# PromptActors benchmark results").AppendLine();
        sb.AppendLine()
            .Append("### ").Append(result.Scenario).Append(" — ").AppendLine(DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'"))
            .AppendLine()
            .Append("- command: `").Append(command).AppendLine("`")
            .Append("- machine: ").AppendLine(machine)
            .Append("- wall time: ").AppendLine($"{elapsed.TotalSeconds:0} s")
            .AppendLine()
            .Append(result.ToMarkdown());
        File.AppendAllText(path, sb.ToString());
        return path;
    }
}
