using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Npgsql;

namespace PromptActors.TestSupport;

/// <summary>How <see cref="PostgresServer"/> runs its server.</summary>
public sealed record PostgresServerOptions
{
    /// <summary>The tests' defaults: fsync, synchronous_commit and full_page_writes off, autovacuum off.</summary>
    public static readonly PostgresServerOptions Test = new();

    /// <summary>
    /// A durable server, as production runs it: fsync, synchronous_commit and full_page_writes on (benchmarks that report
    /// durable throughput must use this).
    /// </summary>
    public static readonly PostgresServerOptions Production = new() { Durable = true };

    /// <summary>fsync, synchronous_commit and full_page_writes on (otherwise off).</summary>
    public bool Durable { get; init; }

    /// <summary>Extra or overriding server settings (<c>-c name=value</c>), e.g. shared_preload_libraries.</summary>
    public IReadOnlyDictionary<string, string> Settings { get; init; } = new Dictionary<string, string>();
}

/// <summary>
/// A throwaway PostgreSQL server for tests and benchmarks: initdb + pg_ctl on a free loopback port, run as the
/// unprivileged user <c>pgtest</c> when the process runs as root (PostgreSQL refuses root), fsync off unless
/// <see cref="PostgresServerOptions.Durable"/>. Failing to start is an error, never a skip.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    private const string ServiceUser = "pgtest";
    private static readonly SemaphoreSlim UserGate = new(1, 1);

    private readonly string _bin;
    private readonly string _baseDir;
    private readonly bool _asServiceUser;
    private readonly PostgresServerOptions _options;
    private int _databases;

    private PostgresServer(string bin, string baseDir, bool asServiceUser, PostgresServerOptions options)
    {
        _bin = bin;
        _baseDir = baseDir;
        _asServiceUser = asServiceUser;
        _options = options;
    }

    public int Port { get; private set; }

    public bool IsRunning { get; private set; }

    /// <summary>The server's data folder (its <c>postmaster.pid</c> names the server process).</summary>
    public string DataDir => Path.Combine(_baseDir, "data");
    private string SocketDir => Path.Combine(_baseDir, "sock");
    private string LogFile => Path.Combine(_baseDir, "server.log");

    public string ConnectionString(string database) =>
        $"Host=127.0.0.1;Port={Port};Username=postgres;Database={database};Timeout=5;Maximum Pool Size=20";

    /// <summary>The postmaster's process id (from <c>postmaster.pid</c>), or null when the server is not running.</summary>
    public int? ServerProcessId
    {
        get
        {
            try
            {
                var first = File.ReadLines(Path.Combine(DataDir, "postmaster.pid")).FirstOrDefault();
                return int.TryParse(first, out var pid) ? pid : null;
            }
            catch (IOException)
            {
                return null;
            }
        }
    }

    public static Task<PostgresServer> StartAsync() => StartAsync(PostgresServerOptions.Test);

    public static async Task<PostgresServer> StartAsync(PostgresServerOptions options)
    {
        var bin = FindBinaries();
        var asServiceUser = Environment.IsPrivilegedProcess;
        if (asServiceUser)
            await EnsureServiceUserAsync();

        var baseDir = Path.Combine(Path.GetTempPath(), "pa-pg-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path.Combine(baseDir, "sock"));
        var server = new PostgresServer(bin, baseDir, asServiceUser, options);
        try
        {
            if (asServiceUser)
                await RunAsync("chown", ["-R", ServiceUser, baseDir]);
            await server.RunPgAsync("initdb", ["-D", server.DataDir, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                "--locale=C.UTF-8", "--no-sync"]);
            await server.StartOnFreePortAsync();
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Creates an empty database with a unique name and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync() => ConnectionString(await CreateDatabaseNamedAsync());

    /// <summary>Creates an empty database with a unique name and returns the name.</summary>
    public async Task<string> CreateDatabaseNamedAsync()
    {
        var name = $"pa_{Interlocked.Increment(ref _databases)}_{Guid.NewGuid().ToString("N")[..8]}";
        await using var connection = new NpgsqlConnection(ConnectionString("postgres") + ";Pooling=false");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = $"CREATE DATABASE \"{name}\"";
        await command.ExecuteNonQueryAsync();
        return name;
    }

    /// <summary>Stops the server as an operator would (connections are closed); <see cref="StartAgainAsync"/> brings it back on the same port.</summary>
    public async Task StopAsync()
    {
        await RunPgAsync("pg_ctl", ["-D", DataDir, "-m", "fast", "-w", "-t", "30", "stop"]);
        IsRunning = false;
    }

    public Task StartAgainAsync() => StartAsync(Port);

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (IsRunning)
        {
            try
            {
                await RunPgAsync("pg_ctl", ["-D", DataDir, "-m", "immediate", "-w", "-t", "30", "stop"]);
            }
            catch (Exception)
            {
                // Best effort: the folder goes anyway.
            }
            IsRunning = false;
        }
        try
        {
            Directory.Delete(_baseDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private async Task StartOnFreePortAsync()
    {
        Exception? last = null;
        for (var attempt = 0; attempt < 3; attempt++)
        {
            try
            {
                await StartAsync(FreePort());
                return;
            }
            catch (Exception ex)
            {
                // Another process may have taken the port between probing and binding; try another one.
                last = ex;
            }
        }
        throw last!;
    }

    private async Task StartAsync(int port)
    {
        Port = port;
        var durable = _options.Durable ? "on" : "off";
        var values = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["listen_addresses"] = "127.0.0.1",
            ["fsync"] = durable,
            ["synchronous_commit"] = durable,
            ["full_page_writes"] = durable,
            ["autovacuum"] = "off",
            ["max_connections"] = "300",
            ["shared_buffers"] = "32MB",
        };
        foreach (var (name, value) in _options.Settings)
            values[name] = value;
        var settings = string.Join(' ',
            new[] { $"-p {port}", $"-k {SocketDir}" }.Concat(values.Select(kv => $"-c {kv.Key}={kv.Value}")));
        try
        {
            await RunPgAsync("pg_ctl", ["-D", DataDir, "-l", LogFile, "-w", "-t", "30", "-o", settings, "start"]);
        }
        catch (Exception ex)
        {
            throw new InvalidOperationException($"PostgreSQL did not start on port {port}: {ex.Message}\n--- server log ---\n{TailOfLog()}", ex);
        }
        IsRunning = true;
    }

    private string TailOfLog()
    {
        try
        {
            var lines = File.ReadAllLines(LogFile);
            return string.Join('\n', lines.TakeLast(20));
        }
        catch (IOException)
        {
            return "(no log)";
        }
    }

    private Task RunPgAsync(string tool, IReadOnlyList<string> args)
    {
        var path = Path.Combine(_bin, tool);
        return _asServiceUser
            ? RunAsync("runuser", ["-u", ServiceUser, "--", path, .. args])
            : RunAsync(path, args);
    }

    private static string FindBinaries()
    {
        var preferred = Environment.GetEnvironmentVariable("PG_BIN") ?? "/usr/lib/postgresql/15/bin";
        if (File.Exists(Path.Combine(preferred, "initdb")))
            return preferred;
        var other = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql")
                .Select(d => Path.Combine(d, "bin"))
                .Where(d => File.Exists(Path.Combine(d, "initdb")))
                .OrderByDescending(d => d, StringComparer.Ordinal)
                .FirstOrDefault()
            : null;
        return other ?? throw new InvalidOperationException(
            $"PostgreSQL server binaries were not found in {preferred}. These tests need a real PostgreSQL 15: " +
            "install it with `apt-get install postgresql` (or set PG_BIN to the folder holding initdb and pg_ctl).");
    }

    private static async Task EnsureServiceUserAsync()
    {
        await UserGate.WaitAsync();
        try
        {
            if (await TryRunAsync("id", ["-u", ServiceUser]))
                return;
            if (!await TryRunAsync("useradd", ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", ServiceUser])
                && !await TryRunAsync("id", ["-u", ServiceUser]))
                throw new InvalidOperationException($"Could not create the system user '{ServiceUser}' that runs the test PostgreSQL.");
        }
        finally
        {
            UserGate.Release();
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task<bool> TryRunAsync(string file, IReadOnlyList<string> args)
    {
        try
        {
            await RunAsync(file, args);
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private static async Task RunAsync(string file, IReadOnlyList<string> args)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(),
        };
        foreach (var a in args)
            info.ArgumentList.Add(a);
        using var process = new Process { StartInfo = info };
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException($"Cannot run {file}: {ex.Message}", ex);
        }
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} did not finish within 90 s");
        }
        if (process.ExitCode != 0)
        {
            string text;
            lock (output)
                text = output.ToString();
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited with {process.ExitCode}: {text}");
        }
    }
}
