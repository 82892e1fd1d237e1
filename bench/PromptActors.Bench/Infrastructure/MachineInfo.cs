using System.Diagnostics;
using System.Runtime;
using System.Runtime.InteropServices;

namespace PromptActors.Bench.Infrastructure;

/// <summary>What the results were measured on.</summary>
public static class MachineInfo
{
    public static string Describe()
    {
        var cpu = ReadFirst("/proc/cpuinfo", "model name") ?? RuntimeInformation.ProcessArchitecture.ToString();
        var memKb = ReadFirst("/proc/meminfo", "MemTotal")?.Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
        var ram = long.TryParse(memKb, out var kb) ? $"{kb / 1024.0 / 1024.0:0.0} GiB RAM" : "RAM unknown";
        var os = OsName() ?? RuntimeInformation.OSDescription;
        var gc = GCSettings.IsServerGC ? "Server GC" : "Workstation GC";
        return $"{Environment.ProcessorCount} cores ({cpu}), {ram}, {os} ({RuntimeInformation.OSDescription.Trim()}), " +
               $"{RuntimeInformation.FrameworkDescription}, {gc}, commit {CommitHash()}";
    }

    public static string CommitHash()
    {
        var root = RepoRoot.Find();
        if (root is null)
            return "unknown";
        var hash = Git(root, "rev-parse --short HEAD");
        if (hash is null)
            return "unknown";
        var dirty = Git(root, "status --porcelain --untracked-files=no");
        return string.IsNullOrWhiteSpace(dirty) ? hash : hash + " + uncommitted changes";
    }

    private static string? Git(string root, string args)
    {
        try
        {
            var info = new ProcessStartInfo("git", args)
            {
                WorkingDirectory = root,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            using var p = Process.Start(info)!;
            var output = p.StandardOutput.ReadToEnd();
            p.WaitForExit(5000);
            return p.ExitCode == 0 ? output.Trim() : null;
        }
        catch (Exception)
        {
            return null;
        }
    }

    private static string? OsName()
    {
        try
        {
            var line = File.ReadLines("/etc/os-release").FirstOrDefault(l => l.StartsWith("PRETTY_NAME=", StringComparison.Ordinal));
            return line?["PRETTY_NAME=".Length..].Trim('"');
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static string? ReadFirst(string file, string key)
    {
        try
        {
            var line = File.ReadLines(file).FirstOrDefault(l => l.StartsWith(key, StringComparison.Ordinal));
            return line?[(line.IndexOf(':') + 1)..].Trim();
        }
        catch (IOException)
        {
            return null;
        }
    }
}

/// <summary>Finds the repository root (the folder holding PromptActors.sln).</summary>
public static class RepoRoot
{
    public static string? Find()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "PromptActors.sln")))
                    return dir.FullName;
            }
        }
        return null;
    }
}
