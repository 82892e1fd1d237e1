using System.Reflection;
using Microsoft.Extensions.Logging;
using PromptActors.Persistence.Sql;

namespace PromptActors.Persistence.Migrations;

/// <summary>One schema version: its SQL for one dialect (the dialect's script, then the shared one).</summary>
internal sealed record Migration(int Version, string Name, string Sql);

/// <summary>
/// The versioned migrations embedded in this assembly: <c>Migrations/{postgres|sqlite|shared}/NNN_name.sql</c>.
/// A version's SQL is its dialect script followed by its shared script. Released scripts are never edited.
/// </summary>
internal static class MigrationScripts
{
    private const string Prefix = "PromptActors.Persistence.Migrations.";
    private static readonly Dictionary<string, IReadOnlyList<Migration>> ByFolder = Load();

    public static IReadOnlyList<Migration> For(string folder) => ByFolder[folder];

    /// <summary>The newest schema version this build knows.</summary>
    public static int LatestVersion => ByFolder.Values.Max(m => m[^1].Version);

    private static Dictionary<string, IReadOnlyList<Migration>> Load()
    {
        var assembly = typeof(MigrationScripts).Assembly;
        var scripts = new List<(string Folder, int Version, string Name, string Sql)>();
        foreach (var resource in assembly.GetManifestResourceNames().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)))
        {
            var parts = resource[Prefix.Length..].Split('/', '\\');
            var file = Path.GetFileNameWithoutExtension(parts[^1]);
            var separator = file.IndexOf('_');
            if (parts.Length != 2 || separator < 1 || !int.TryParse(file[..separator], out var version))
                throw new InvalidOperationException($"Migration script '{resource}' must be named Migrations/<folder>/NNN_name.sql");
            scripts.Add((parts[0], version, file[(separator + 1)..].Replace('_', ' '), Read(assembly, resource)));
        }

        var result = new Dictionary<string, IReadOnlyList<Migration>>(StringComparer.Ordinal);
        foreach (var folder in new[] { "postgres", "sqlite" })
        {
            var versions = scripts.Where(s => s.Folder is "shared" || s.Folder == folder).Select(s => s.Version)
                .Distinct().Order().ToList();
            var list = new List<Migration>();
            for (var i = 0; i < versions.Count; i++)
            {
                if (versions[i] != i + 1)
                    throw new InvalidOperationException($"Migrations for {folder} must be numbered 1, 2, 3… without gaps (found {versions[i]})");
                var own = scripts.Where(s => s.Folder == folder && s.Version == versions[i]).ToList();
                var shared = scripts.Where(s => s.Folder == "shared" && s.Version == versions[i]).ToList();
                var name = (own.Count > 0 ? own : shared)[0].Name;
                list.Add(new Migration(versions[i], name, string.Join("\n", own.Concat(shared).Select(s => Terminated(s.Sql)))));
            }
            result[folder] = list;
        }
        return result;
    }

    private static string Terminated(string sql)
    {
        var trimmed = sql.TrimEnd();
        return trimmed.EndsWith(';') ? trimmed : trimmed + ";";
    }

    private static string Read(Assembly assembly, string resource)
    {
        using var stream = assembly.GetManifestResourceStream(resource)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}

/// <summary>
/// Brings a database to the newest schema: one transaction that takes the migration lock (PostgreSQL advisory lock,
/// SQLite's write lock), reads <c>schema_migrations</c>, applies what is missing and records each version.
/// A second run is a no-op; a database newer than this build is refused.
/// </summary>
internal sealed class SchemaMigrator(SqlDialect dialect, ILogger logger)
{
    public async Task<MigrationResult> MigrateAsync(int? targetVersion = null, CancellationToken cancellationToken = default)
    {
        var migrations = MigrationScripts.For(dialect.MigrationFolder);
        var latest = migrations[^1].Version;
        var target = Math.Min(targetVersion ?? latest, latest);

        await using var session = await SqlSession.BeginWriteAsync(dialect, cancellationToken);
        if (dialect.MigrationLockSql is { } lockSql)
            await session.Sql(lockSql).ExecuteAsync(cancellationToken);
        await session.Sql(dialect.CreateMigrationsTableSql).ExecuteAsync(cancellationToken);
        var current = Convert.ToInt32(await session.Sql("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
            .ScalarAsync(cancellationToken) ?? 0);
        if (current > latest)
        {
            throw new StorageStartupException(
                $"The {dialect.DisplayName} database at {dialect.Target} has schema version {current}, but this build of " +
                $"PromptActors knows versions up to {latest}: it was upgraded by a newer PromptActors. Run that version, " +
                $"or point {StorageOptions.ConnectionStringKey} at another database.");
        }

        var applied = new List<int>();
        foreach (var migration in migrations.Where(m => m.Version > current && m.Version <= target))
        {
            try
            {
                await session.Sql(migration.Sql).ExecuteAsync(cancellationToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                throw new StorageStartupException(
                    $"Migration {migration.Version} ({migration.Name}) of the {dialect.DisplayName} database at {dialect.Target} " +
                    $"failed; nothing was changed: {ex.Message}", ex);
            }
            await session.Sql("INSERT INTO schema_migrations (version, name) VALUES (@version, @name)")
                .Int32("version", migration.Version).Text("name", migration.Name).ExecuteAsync(cancellationToken);
            applied.Add(migration.Version);
        }
        await session.CommitAsync(cancellationToken);

        var reached = applied.Count > 0 ? applied[^1] : current;
        if (applied.Count > 0)
            logger.LogInformation("Migrated the {Database} database at {Target} from schema version {From} to {To}",
                dialect.DisplayName, dialect.Target, current, reached);
        else
            logger.LogDebug("The {Database} database at {Target} is at schema version {Version}; nothing to migrate",
                dialect.DisplayName, dialect.Target, current);
        return new MigrationResult(current, reached, applied);
    }
}
