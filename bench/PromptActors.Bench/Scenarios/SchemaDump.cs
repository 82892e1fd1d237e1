using System.Diagnostics;
using PromptActors.Bench.Infrastructure;

namespace PromptActors.Bench.Scenarios;

/// <summary>Hidden helper verb `schema`: prints the tables Akka.Persistence.Sql creates on PostgreSQL (pg_dump -s).</summary>
public static class SchemaDump
{
    public static async Task RunAsync(BenchOptions o)
    {
        await using var pg = await BenchPostgres.StartAsync(o);
        var (db, storage) = await pg.CreateStorageAsync();
        await using var storageLease = storage;
        await using (var host = await EngineHost.StartAsync(o.Engine(new EngineHostOptions
                     {
                         Storage = storage.AkkaConfig(), Prompts = storage.Prompts, Variables = storage.Variables, Runs = storage.Runs,
                     }), "bench-schema"))
        {
            await host.WarmUpAsync(trackInRuns: true);
        }
        var bin = Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin", "pg_dump")).First(File.Exists);
        var cs = new Npgsql.NpgsqlConnectionStringBuilder(pg.ConnectionString(db));
        var info = new ProcessStartInfo(bin, $"-s -h 127.0.0.1 -p {cs.Port} -U postgres -t journal -t tags -t snapshot {db}")
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        using var p = Process.Start(info)!;
        Console.WriteLine(await p.StandardOutput.ReadToEndAsync());
        await p.WaitForExitAsync();
    }
}
