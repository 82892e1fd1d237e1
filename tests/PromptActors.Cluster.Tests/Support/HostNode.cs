using System.Diagnostics;
using System.Reflection;
using System.Text;

namespace PromptActors.Cluster.Tests.Support;

/// <summary>
/// One PromptActors.Host process (<c>dotnet PromptActors.Host.dll serve</c>) with fixed HTTP and Akka ports, configured on
/// the command line. It can be killed (-9, a crash), stopped with SIGTERM (a graceful leave) and started again on the same
/// ports, like a restarted pod. Its output goes to a log file in its own working folder.
/// </summary>
public sealed class HostNode : IAsyncDisposable
{
    public const string SystemName = "prompt-actors";

    private readonly string _dir;
    private readonly Lock _logGate = new();
    private Process? _process;
    private StreamWriter? _log;

    public HostNode(int index, int httpPort, int akkaPort, string baseDir)
    {
        Index = index;
        HttpPort = httpPort;
        AkkaPort = akkaPort;
        _dir = Path.Combine(baseDir, $"node{index}");
        Directory.CreateDirectory(_dir);
    }

    public int Index { get; }
    public int HttpPort { get; }
    public int AkkaPort { get; }
    public Uri BaseUri => new($"http://127.0.0.1:{HttpPort}");
    public string Address => $"akka.tcp://{SystemName}@127.0.0.1:{AkkaPort}";
    public string LogFile => Path.Combine(_dir, "node.log");
    public bool IsRunning => _process is { HasExited: false };

    /// <summary>The running process's id (a restarted node has a new one).</summary>
    public int? ProcessId => _process is { HasExited: false } p ? p.Id : null;

    /// <summary>Bytes this node has logged so far (over all its starts).</summary>
    public long LogBytes
    {
        get
        {
            lock (_logGate)
                return new FileInfo(LogFile) is { Exists: true } f ? f.Length : 0;
        }
    }

    /// <summary>Whether clients (the tests' load balancer) may send requests to it.</summary>
    public volatile bool Routable;

    public static string HostDll
    {
        get
        {
            var path = typeof(HostNode).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
                .First(a => a.Key == "PromptActorsHostDll").Value!;
            return File.Exists(path)
                ? path
                : throw new InvalidOperationException($"{path} is missing: build src/PromptActors.Host in the same configuration as the tests");
        }
    }

    public override string ToString() => $"node{Index} ({BaseUri}, {Address})";

    public void Start(IReadOnlyDictionary<string, string> settings)
    {
        if (IsRunning)
            throw new InvalidOperationException($"{this} is already running");
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = _dir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(HostDll);
        info.ArgumentList.Add("serve");
        info.ArgumentList.Add("--urls");
        info.ArgumentList.Add(BaseUri.ToString().TrimEnd('/'));
        foreach (var (key, value) in settings)
            info.ArgumentList.Add($"--{key}={value}");
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_gcServer"] = "0";
        info.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";

        lock (_logGate)
        {
            _log ??= new StreamWriter(LogFile, append: true) { AutoFlush = true };
            _log.WriteLine($"===== start {DateTimeOffset.UtcNow:O}");
        }
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) => Log(e.Data);
        process.ErrorDataReceived += (_, e) => Log(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
    }

    private void Log(string? line)
    {
        if (line is null)
            return;
        lock (_logGate)
            _log?.WriteLine(line);
    }

    /// <summary>kill -9: the process dies at once, with no leave, no hand-off, no flushing.</summary>
    public async Task KillAsync()
    {
        Routable = false;
        if (_process is not { } p)
            return;
        if (!p.HasExited)
            p.Kill();
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(20));
        Log($"===== killed (-9) {DateTimeOffset.UtcNow:O}");
    }

    /// <summary>SIGTERM, as an orchestrator stops a pod: the host drains HTTP, hands its shards off and leaves the cluster.</summary>
    public async Task<TimeSpan> StopAsync(TimeSpan timeout)
    {
        Routable = false;
        if (_process is not { HasExited: false } p)
            return TimeSpan.Zero;
        var started = Stopwatch.StartNew();
        using (var kill = Process.Start("kill", ["-TERM", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            await kill.WaitForExitAsync();
        try
        {
            await p.WaitForExitAsync().WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            p.Kill();
            throw new TimeoutException($"{this} did not stop within {timeout} after SIGTERM");
        }
        Log($"===== stopped (SIGTERM, exit code {p.ExitCode}) after {started.Elapsed} {DateTimeOffset.UtcNow:O}");
        return started.Elapsed;
    }

    public string LogTail(int lines = 60) => string.Join('\n', LogLines().TakeLast(lines));

    public string[] LogLines()
    {
        lock (_logGate)
        {
            _log?.Flush();
            try
            {
                using var stream = new FileStream(LogFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                using var reader = new StreamReader(stream, Encoding.UTF8);
                return reader.ReadToEnd().Split('\n');
            }
            catch (IOException e)
            {
                return ["(no log: " + e.Message + ")"];
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await KillAsync();
        }
        catch (Exception)
        {
            // best effort
        }
        _process?.Dispose();
        lock (_logGate)
        {
            _log?.Dispose();
            _log = null;
        }
    }
}
