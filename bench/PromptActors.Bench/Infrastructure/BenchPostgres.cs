using System.Globalization;
using Npgsql;
using PromptActors.Persistence;
using PromptActors.TestSupport;

namespace PromptActors.Bench.Infrastructure;

/// <summary>
/// A throwaway PostgreSQL server for the benchmarks, durable as production runs it (fsync, synchronous_commit and
/// full_page_writes on), with pg_stat_statements loaded so statements can be counted, and the probes the scenarios need:
/// WAL position, statement counts, server CPU time.
/// </summary>
public sealed class BenchPostgres : IAsyncDisposable
{
    private readonly PostgresServer _server;
    private readonly NpgsqlDataSource _admin;
    private readonly string? _extraConnection;

    private BenchPostgres(PostgresServer server, string? extraConnection)
    {
        _extraConnection = extraConnection;
        _server = server;
        _admin = NpgsqlDataSource.Create(ConnectionString("postgres", pool: 4));
    }

    public string Version { get; private set; } = "";

    /// <summary>The settings the server runs with (reported with the results).</summary>
    public static readonly IReadOnlyDictionary<string, string> Settings = new Dictionary<string, string>
    {
        ["shared_preload_libraries"] = "pg_stat_statements",
        ["pg_stat_statements.track"] = "all",
        ["pg_stat_statements.max"] = "5000",
        ["shared_buffers"] = "512MB",
        ["max_wal_size"] = "8GB",
        ["checkpoint_timeout"] = "30min",
        ["max_connections"] = "400",
    };

    public static string Describe =>
        "PostgreSQL with fsync=on, synchronous_commit=on, full_page_writes=on, " +
        string.Join(", ", Settings.Where(kv => !kv.Key.StartsWith("pg_stat", StringComparison.Ordinal) && kv.Key != "shared_preload_libraries")
            .Select(kv => $"{kv.Key}={kv.Value}")) + ", autovacuum=off (as the tests), pg_stat_statements loaded";

    public static async Task<BenchPostgres> StartAsync(BenchOptions options)
    {
        var log = options.Log;
        var server = await PostgresServer.StartAsync(new PostgresServerOptions { Durable = true, Settings = Settings });
        var pg = new BenchPostgres(server, options.ExtraConnection);
        await using (var c = await pg._admin.OpenConnectionAsync())
        {
            await using var cmd = new NpgsqlCommand("CREATE EXTENSION IF NOT EXISTS pg_stat_statements", c);
            await cmd.ExecuteNonQueryAsync();
            await using var v = new NpgsqlCommand("SHOW server_version", c);
            pg.Version = (string)(await v.ExecuteScalarAsync())!;
        }
        log($"PostgreSQL {pg.Version} started on port {server.Port} (fsync on, synchronous_commit on)");
        return pg;
    }

    public string ConnectionString(string database, int pool = 100) =>
        $"Host=127.0.0.1;Port={_server.Port};Username=postgres;Database={database};Timeout=30;Command Timeout=300;" +
        $"Maximum Pool Size={pool}";

    /// <summary>
    /// A fresh database for the engine, migrated by <see cref="PromptActorsStorage"/> (with the <c>--connection</c> extras);
    /// the caller disposes the storage.
    /// </summary>
    public async Task<(string Database, PromptActorsStorage Storage)> CreateStorageAsync()
    {
        var db = await _server.CreateDatabaseNamedAsync();
        var cs = ConnectionString(db) + (string.IsNullOrWhiteSpace(_extraConnection) ? "" : ";" + _extraConnection);
        var storage = PromptActorsStorage.Create(StorageOptions.ForPostgres(cs));
        await storage.InitializeAsync();
        return (db, storage);
    }

    public Task<string> CreateDatabaseAsync() => _server.CreateDatabaseNamedAsync();

    public async Task ResetStatementsAsync()
    {
        await using var c = await _admin.OpenConnectionAsync();
        await using var cmd = new NpgsqlCommand("SELECT pg_stat_statements_reset()", c);
        await cmd.ExecuteNonQueryAsync();
    }

    /// <summary>Server-wide WAL position, checkpoints, statements run in <paramref name="database"/>, and server CPU.</summary>
    public async Task<PgSample> SampleAsync(string database)
    {
        await using var c = await _admin.OpenConnectionAsync();
        await using var cmd = new NpgsqlCommand("""
            SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::bigint,
                   (SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter),
                   COALESCE((SELECT sum(calls) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
                             WHERE d.datname = @db AND s.query NOT LIKE '%bench_probe%'), 0)::bigint
            """, c);
        cmd.Parameters.AddWithValue("db", database);
        await using var r = await cmd.ExecuteReaderAsync();
        await r.ReadAsync();
        return new PgSample(r.GetInt64(0), r.GetInt64(1), r.GetInt64(2), ServerCpuMs());
    }

    /// <summary>The statements run in <paramref name="database"/> since the last reset, most frequent first.</summary>
    public async Task<List<(long Calls, string Query)>> TopStatementsAsync(string database, int count)
    {
        await using var c = await _admin.OpenConnectionAsync();
        await using var cmd = new NpgsqlCommand("""
            SELECT s.calls, regexp_replace(s.query, '\s+', ' ', 'g')
            FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
            WHERE d.datname = @db AND s.query NOT LIKE '%bench_probe%'
            ORDER BY s.calls DESC, s.query LIMIT @n
            """, c);
        cmd.Parameters.AddWithValue("db", database);
        cmd.Parameters.AddWithValue("n", count);
        var rows = new List<(long, string)>();
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync())
            rows.Add((r.GetInt64(0), r.GetString(1)));
        return rows;
    }

    /// <summary>Runs a scalar query in <paramref name="database"/> (tag it with bench_probe so it is not counted).</summary>
    public async Task<long> ScalarAsync(string database, string sql)
    {
        await using var c = new NpgsqlConnection(ConnectionString(database, pool: 2));
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand(sql, c);
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    /// <summary>Waits until <paramref name="sql"/> (a bench_probe count) reaches <paramref name="expected"/>.</summary>
    public async Task WaitForCountAsync(string database, string sql, long expected, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        long last;
        while ((last = await ScalarAsync(database, sql)) < expected)
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"waited {timeout} for {sql} to reach {expected}; it is {last}");
            await Task.Delay(20);
        }
    }

    /// <summary>The current WAL insert position (bytes since 0/0).</summary>
    public async Task<long> WalPositionAsync()
    {
        await using var c = await _admin.OpenConnectionAsync();
        await using var cmd = new NpgsqlCommand("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::bigint", c);
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    /// <summary>
    /// Where the WAL between two positions went (pg_walinspect): bytes by relation of <paramref name="database"/> and
    /// record type, biggest first. Records without a relation (commits, …) are grouped under their resource manager.
    /// </summary>
    public async Task<List<(string Relation, string Record, long Count, long Bytes)>> WalBreakdownAsync(string database, long from, long to)
    {
        await using var c = new NpgsqlConnection(ConnectionString(database, pool: 2));
        await c.OpenAsync();
        await using (var ext = new NpgsqlCommand("CREATE EXTENSION IF NOT EXISTS pg_walinspect", c))
            await ext.ExecuteNonQueryAsync();
        await using var cmd = new NpgsqlCommand("""
            SELECT COALESCE(pg_filenode_relation(0, (regexp_match(block_ref, 'rel \d+/\d+/(\d+)'))[1]::oid)::text,
                            CASE WHEN block_ref IS NULL THEN '(none)' ELSE '(other)' END) AS bench_probe,
                   resource_manager || '/' || record_type, count(*), sum(record_length)
            FROM pg_get_wal_records_info(@from::pg_lsn, @to::pg_lsn)
            GROUP BY 1, 2 ORDER BY 4 DESC
            """, c);
        cmd.Parameters.AddWithValue("from", Lsn(from));
        cmd.Parameters.AddWithValue("to", Lsn(to));
        var rows = new List<(string, string, long, long)>();
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync())
            rows.Add((r.GetString(0), r.GetString(1), r.GetInt64(2), Convert.ToInt64(r.GetValue(3), CultureInfo.InvariantCulture)));
        return rows;
    }

    /// <summary>Every WAL record between two positions, in order (for a close look at one turn).</summary>
    public async Task<List<string>> WalRecordsAsync(string database, long from, long to)
    {
        await using var c = new NpgsqlConnection(ConnectionString(database, pool: 2));
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand("""
            SELECT xid::text AS bench_probe, resource_manager || '/' || record_type,
                   COALESCE(pg_filenode_relation(0, (regexp_match(block_ref, 'rel \d+/\d+/(\d+)'))[1]::oid)::text, '-'),
                   record_length, left(description, 90)
            FROM pg_get_wal_records_info(@from::pg_lsn, @to::pg_lsn)
            """, c);
        cmd.Parameters.AddWithValue("from", Lsn(from));
        cmd.Parameters.AddWithValue("to", Lsn(to));
        var rows = new List<string>();
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync())
            rows.Add($"{r.GetString(0),8} {r.GetString(1),-24} {r.GetString(2),-20} {r.GetInt32(3),5}  {r.GetString(4)}");
        return rows;
    }

    /// <summary>Journal rows by event manifest: count, average payload and row size.</summary>
    public async Task<List<(string Manifest, long Count, double Payload, double Row)>> JournalRowsAsync(string database)
    {
        await using var c = new NpgsqlConnection(ConnectionString(database, pool: 2));
        await c.OpenAsync();
        await using var cmd = new NpgsqlCommand("""
            SELECT manifest AS bench_probe, count(*), avg(octet_length(message))::float8, avg(pg_column_size(j.*))::float8
            FROM journal j GROUP BY 1 ORDER BY 2 DESC
            """, c);
        var rows = new List<(string, long, double, double)>();
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync())
            rows.Add((r.IsDBNull(0) ? "" : r.GetString(0), r.GetInt64(1), r.GetDouble(2), r.GetDouble(3)));
        return rows;
    }

    private static string Lsn(long position) => $"{position >> 32:X}/{position & 0xFFFFFFFF:X}";

    /// <summary>
    /// CPU time of the whole server in ms: every live postgres process (utime + stime from /proc/PID/stat) plus what the
    /// postmaster collected from children that already exited (cutime + cstime).
    /// </summary>
    public double ServerCpuMs()
    {
        if (_server.ServerProcessId is not { } postmaster)
            return double.NaN;
        long ticks = 0;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            var name = Path.GetFileName(dir);
            if (!int.TryParse(name, out var pid))
                continue;
            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(dir, "stat"));
            }
            catch (Exception)
            {
                continue;
            }
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            // fields[0] is field 3 (state): ppid = field 4, utime = 14, stime = 15, cutime = 16, cstime = 17
            var ppid = int.Parse(fields[1], CultureInfo.InvariantCulture);
            if (pid == postmaster)
                ticks += long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)
                         + long.Parse(fields[13], CultureInfo.InvariantCulture) + long.Parse(fields[14], CultureInfo.InvariantCulture);
            else if (ppid == postmaster)
                ticks += long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        }
        return ticks * 10.0; // USER_HZ is 100 on Linux
    }

    public async ValueTask DisposeAsync()
    {
        await _admin.DisposeAsync();
        await _server.DisposeAsync();
    }
}

/// <summary>A point-in-time reading of the server; subtract two to get what a phase cost.</summary>
public readonly record struct PgSample(long WalBytes, long Checkpoints, long Statements, double CpuMs)
{
    public PgDelta Since(PgSample start) =>
        new(WalBytes - start.WalBytes, Checkpoints - start.Checkpoints, Statements - start.Statements, CpuMs - start.CpuMs);
}

public readonly record struct PgDelta(long WalBytes, long Checkpoints, long Statements, double CpuMs);
