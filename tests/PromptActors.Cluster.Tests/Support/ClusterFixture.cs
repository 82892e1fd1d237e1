using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace PromptActors.Cluster.Tests.Support;

/// <summary>
/// Three PromptActors.Host processes on 127.0.0.1 forming one cluster over one throwaway PostgreSQL (one per test class:
/// two clusters must never share a journal). Every node lists all three as seed nodes, so any of them can restart and
/// rejoin. <see cref="WaitReadyAsync"/> waits until every running node reports every running node Up with its shard
/// region registered at the coordinator (GET /clusterz, backed by GetCurrentRegions).
/// </summary>
public abstract class ClusterFixture(int size = 3) : IAsyncLifetime
{
    public int Size { get; } = size;
    private readonly string _baseDir = Path.Combine(Path.GetTempPath(), "pa-cluster-" + Guid.NewGuid().ToString("N")[..10]);

    public PostgresServer Postgres { get; private set; } = null!;
    public string ConnectionString { get; private set; } = "";
    public HostNode[] Nodes { get; private set; } = [];
    public EngineClient Client { get; } = new();

    /// <summary>Settings every node of this fixture gets on top of the cluster and storage ones.</summary>
    protected virtual IReadOnlyDictionary<string, string> Settings => new Dictionary<string, string>();

    public async Task InitializeAsync()
    {
        Postgres = await PostgresServer.StartAsync();
        ConnectionString = await Postgres.CreateDatabaseAsync();
        Nodes = Enumerable.Range(1, Size).Select(i => new HostNode(i, FreePort(), FreePort(), _baseDir)).ToArray();
        foreach (var node in Nodes)
            Start(node);
        await WaitReadyAsync(TimeSpan.FromSeconds(120));
    }

    public IReadOnlyDictionary<string, string> NodeSettings(HostNode node)
    {
        var settings = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["PromptActors:Cluster:Enabled"] = "true",
            ["PromptActors:Cluster:Hostname"] = "127.0.0.1",
            ["PromptActors:Cluster:Port"] = node.AkkaPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["PromptActors:Cluster:HandOffTimeout"] = "00:00:10",
            ["PromptActors:Cluster:ShutdownTimeout"] = "00:00:30",
            ["PromptActors:Storage:Provider"] = "postgres",
            ["PromptActors:Storage:ConnectionString"] = ConnectionString,
            ["PromptActors:Auth:Enabled"] = "false",
            ["PromptActors:Examples:Load"] = "false",
            ["PromptActors:TaskSweeper:Interval"] = "00:00:01",
            ["PromptActors:TaskSweeper:StaleAfter"] = "00:00:02",
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:PromptActors.Runs.TaskSweeper"] = "Information",
            ["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Information",
        };
        for (var i = 0; i < Nodes.Length; i++)
            settings[$"PromptActors:Cluster:SeedNodes:{i}"] = Nodes[i].Address;
        // CI runs these nodes beside the other test projects on two cores: it rides out longer stalls than the defaults
        // (1 s / 1.5 s), which the figures in docs/RELIABILITY.md were measured with (PA_CLUSTER_DEFAULTS=1).
        if (Environment.GetEnvironmentVariable("PA_CLUSTER_DEFAULTS") is null)
        {
            settings["PromptActors:Cluster:StableAfter"] = "00:00:02";
            settings["PromptActors:Cluster:AcceptableHeartbeatPause"] = "00:00:02";
        }
        if (Environment.GetEnvironmentVariable("PA_CLUSTER_VERBOSE") is not null)
        {
            settings["Logging:LogLevel:Default"] = "Information";
            settings["Logging:LogLevel:Akka"] = "Information";
        }
        foreach (var (key, value) in Settings)
            settings[key] = value;
        // Extra settings for a measurement, e.g. PA_CLUSTER_SETTINGS="PromptActors:Cluster:AcceptableHeartbeatPause=00:00:01".
        foreach (var pair in (Environment.GetEnvironmentVariable("PA_CLUSTER_SETTINGS") ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries))
            if (pair.Split('=', 2) is [var key, var value])
                settings[key.Trim()] = value.Trim();
        return settings;
    }

    public void Start(HostNode node) => node.Start(NodeSettings(node));

    /// <summary>Starts instances of <paramref name="promptId"/> through every node in turn until one lands on <paramref name="owner"/>.</summary>
    public async Task<string> InstanceOnAsync(HostNode owner, string promptId)
    {
        for (var i = 0; i < 60; i++)
        {
            var view = await Client.StartInstanceAsync(Nodes[i % Nodes.Length], promptId);
            if (view.GetProperty("node").GetString() == owner.Address)
                return view.GetProperty("instanceId").GetString()!;
        }
        throw new InvalidOperationException($"no instance landed on {owner}");
    }

    public IEnumerable<HostNode> Running => Nodes.Where(n => n.IsRunning);

    /// <summary>Nodes clients may use (running, not being stopped).</summary>
    public HostNode[] Routable => Nodes.Where(n => n.Routable && n.IsRunning).ToArray();

    public HostNode NodeAt(string address) => Nodes.Single(n => n.Address == address);

    /// <summary>Waits until every running node sees every running node Up with a registered shard region; marks them routable.</summary>
    public async Task WaitReadyAsync(TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        string last = "";
        while (true)
        {
            var running = Running.ToArray();
            var addresses = running.Select(n => n.Address).ToHashSet(StringComparer.Ordinal);
            var ready = running.Length > 0;
            foreach (var node in running)
            {
                var view = await Client.TryGetJsonAsync(node, "/clusterz");
                if (view is not { } v || !v.GetProperty("ready").GetBoolean())
                {
                    ready = false;
                    last = $"{node}: {(view is null ? "no answer" : view.Value.GetRawText())}";
                    break;
                }
                var up = v.GetProperty("members").EnumerateArray()
                    .Where(m => m.GetProperty("status").GetString() == "Up")
                    .Select(m => m.GetProperty("address").GetString()!).ToHashSet(StringComparer.Ordinal);
                var regions = v.GetProperty("regions").EnumerateArray().Select(r => r.GetString()!).ToHashSet(StringComparer.Ordinal);
                if (!up.SetEquals(addresses) || !addresses.IsSubsetOf(regions))
                {
                    ready = false;
                    last = $"{node}: {v.GetRawText()}";
                    break;
                }
            }
            if (ready)
            {
                foreach (var node in running)
                    node.Routable = true;
                return;
            }
            foreach (var node in Nodes.Where(n => !n.IsRunning && n.Routable))
                node.Routable = false;
            if (deadline.Elapsed > timeout)
                throw new TimeoutException($"the cluster was not ready within {timeout}; last view {last}\n{Logs()}");
            await Task.Delay(250);
        }
    }

    /// <summary>Starts any node a previous test left stopped, and waits for the whole cluster.</summary>
    public async Task EnsureAllRunningAsync(TimeSpan timeout)
    {
        foreach (var node in Nodes.Where(n => !n.IsRunning))
            Start(node);
        await WaitReadyAsync(timeout);
    }

    public async Task RestartAsync(HostNode node, TimeSpan timeout)
    {
        Start(node);
        await WaitReadyAsync(timeout);
    }

    public string Logs(int lines = 40) =>
        string.Join("\n", Nodes.Select(n => $"----- {n} (running: {n.IsRunning})\n{n.LogTail(lines)}"));

    public async Task<T> QueryAsync<T>(string sql, Func<Npgsql.NpgsqlDataReader, T> read)
    {
        await using var connection = new Npgsql.NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync();
        return read(reader);
    }

    public async Task DisposeAsync()
    {
        if (Environment.GetEnvironmentVariable("PA_KEEP_CLUSTER_LOGS") is not null)
            Console.WriteLine($"cluster logs kept in {_baseDir}");
        foreach (var node in Nodes)
            await node.DisposeAsync();
        Client.Dispose();
        await Postgres.DisposeAsync();
        if (Environment.GetEnvironmentVariable("PA_KEEP_CLUSTER_LOGS") is null)
        {
            try
            {
                Directory.Delete(_baseDir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static readonly HashSet<int> Taken = new();

    private static int FreePort()
    {
        lock (Taken)
        {
            while (true)
            {
                using var listener = new TcpListener(IPAddress.Loopback, 0);
                listener.Start();
                var port = ((IPEndPoint)listener.LocalEndpoint).Port;
                if (Taken.Add(port))
                    return port;
            }
        }
    }

    public static JsonSerializerOptions Json { get; } = new(JsonSerializerDefaults.Web);
}
