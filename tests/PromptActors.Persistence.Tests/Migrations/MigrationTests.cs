using PromptActors.Persistence.Sql;
using PromptActors.Persistence.Tests.Support;
using PromptActors.Prompts;
using PromptActors.Runs;

namespace PromptActors.Persistence.Tests.Migrations;

/// <summary>Versioned migrations at start-up, on both databases.</summary>
public abstract class MigrationTests(ITestDatabases databases) : IAsyncLifetime
{
    private readonly List<PromptActorsStorage> _opened = new();
    private StorageOptions _options = null!;

    public async Task InitializeAsync() => _options = await databases.CreateDatabaseAsync();

    public async Task DisposeAsync()
    {
        foreach (var storage in _opened)
            await storage.DisposeAsync();
    }

    private PromptActorsStorage Open()
    {
        var storage = PromptActorsStorage.Create(_options);
        _opened.Add(storage);
        return storage;
    }

    private static async Task<List<int>> RecordedVersionsAsync(PromptActorsStorage storage)
    {
        await using var session = await SqlSession.OpenAsync(storage.Dialect, default);
        return await session.Sql("SELECT version FROM schema_migrations ORDER BY version").QueryAsync(r => r.GetInt32(0), default);
    }

    [Fact]
    public async Task Fresh_database_is_migrated_to_the_latest_version_and_a_second_start_is_a_no_op()
    {
        var latest = PromptActorsStorage.SchemaVersion;
        Assert.True(latest >= 3);

        var first = await Open().InitializeAsync();
        var second = await Open().InitializeAsync();

        Assert.Equal(0, first.FromVersion);
        Assert.Equal(latest, first.ToVersion);
        Assert.Equal(Enumerable.Range(1, latest), first.Applied);
        Assert.Equal(latest, second.FromVersion);
        Assert.Equal(latest, second.ToVersion);
        Assert.Empty(second.Applied);
        Assert.Equal(Enumerable.Range(1, latest), await RecordedVersionsAsync(Open()));
    }

    [Fact]
    public async Task Database_at_an_older_version_is_upgraded_and_keeps_its_data()
    {
        var storage = Open();
        await storage.CheckAsync();
        var partial = await storage.MigrateAsync(targetVersion: 1, default);
        Assert.Equal([1], partial.Applied);
        await InsertVersionOnePromptAsync(storage, "kept", 1, "Still here.");
        await InsertVersionOnePromptAsync(storage, "kept", 2, "Still here, v2.");

        var upgrade = await Open().InitializeAsync();

        Assert.Equal(1, upgrade.FromVersion);
        Assert.Equal(Enumerable.Range(2, PromptActorsStorage.SchemaVersion - 1), upgrade.Applied);
        // Prompts saved before owners existed are built-ins: every caller still finds them, and instances pinned to them run.
        var kept = (await storage.Prompts.GetAsync("kept", null))!;
        Assert.Equal(("Still here, v2.", 2, PromptOwner.BuiltIn), (kept.Messages[0].Content, kept.Version, kept.Owner));
        Assert.Equal("Still here.", (await storage.Prompts.GetAsync("kept", 1))!.Messages[0].Content);
        var resolved = (await storage.Prompts.ResolveAsync(new PromptActors.Variables.InstanceScope("u1", "o1", "p1"), "kept", null))!;
        Assert.Equal(("Still here, v2.", 2, PromptOwner.BuiltIn), (resolved.Messages[0].Content, resolved.Version, resolved.Owner));
        // …and a tenant's save of the same id is its own version 1, beside the built-in.
        var own = await storage.Prompts.SaveAsync(new PromptDefinition("kept", "Mine", [new PromptMessage(MessageRole.System, "mine")]),
            PromptOwner.User("u1"));
        Assert.Equal(1, own.Version);
        Assert.Equal(2, (await storage.Prompts.GetAsync("kept", null))!.Version);
    }

    /// <summary>A prompt row as a build at schema version 1 wrote it (no owner columns yet).</summary>
    private static async Task InsertVersionOnePromptAsync(PromptActorsStorage storage, string id, int version, string text)
    {
        await using var session = await SqlSession.OpenAsync(storage.Dialect, default);
        await session.Sql("""
                INSERT INTO prompts (id, version, name, description, messages, variable_defaults, settings, missing_variables, created_at, updated_at)
                VALUES (@id, @version, 'Kept', NULL, @messages, @defaults, @settings, 'error', @at, @at)
                """)
            .Text("id", id).Int32("version", version)
            .Json("messages", $$"""[{"role":"system","content":"{{text}}"}]""")
            .Json("defaults", "[]").Json("settings", "{}")
            .Timestamp("at", DateTimeOffset.UtcNow)
            .ExecuteAsync(default);
    }

    [Fact]
    public async Task Run_rows_written_before_version_6_keep_their_totals_and_the_sweeper_still_finds_open_tasks()
    {
        // Version 6 drops ai_tasks' foreign key and makes ai_tasks_created a BRIN index on PostgreSQL (a no-op on SQLite).
        var storage = Open();
        await storage.CheckAsync();
        Assert.Equal(5, (await storage.MigrateAsync(targetVersion: 5, default)).ToVersion);
        var at = DateTimeOffset.UtcNow.AddMinutes(-30);
        var run = new RunInfo("run-v5", "u1", null, null, "prompt", "p", null, "p", 1, PromptSettings.Default,
            new Dictionary<string, string>(), at, "instance-v5");
        RunTaskRecord Task(string id, RunTaskStatus status, int minutes, long tokens) => new(run, id, "local", "local", "hi", status,
            status == RunTaskStatus.Completed ? "hello" : null, null, null, tokens, 0, tokens, tokens / 1000m, null, null,
            at.AddMinutes(minutes), at.AddMinutes(minutes), status == RunTaskStatus.Completed ? at.AddMinutes(minutes) : null, minutes);
        // Written as version 5 wrote them (today's store writes columns that version lacks).
        await using (var v5 = await SqlSession.BeginWriteAsync(storage.Dialect, default))
        {
            await v5.Sql("""
                    INSERT INTO ai_runs (id, user_id, source_type, source_id, prompt_id, prompt_version, settings, variable_values,
                                         created_at, status, updated_at, instance_id)
                    VALUES ('run-v5', 'u1', 'prompt', 'p', 'p', 1, @settings, @values, @at, 'running', @at, 'instance-v5')
                    """)
                .Json("settings", StorageJson.Serialize(PromptSettings.Default)).Json("values", "{}").Timestamp("at", at)
                .ExecuteAsync(default);
            foreach (var (id, status, minutes, tokens) in new[] { ("t-done", "completed", 1, 10L), ("t-open", "pending", 2, 0L) })
                await v5.Sql("""
                        INSERT INTO ai_tasks (task_id, run_id, user_id, service, task_name, provider, model, request_data, created_at,
                                              seq, status, response_text, tokens_input, tokens_total, cost, completed_at, updated_at)
                        VALUES (@id, 'run-v5', 'u1', 'prompt-actors', 'execute_message', 'local', 'local', @request, @at, @seq, @status, @text,
                                @tokens, @tokens, @cost, @completed, @at)
                        """)
                    .Text("id", id).Json("request", """{"userMessage":"hi"}""").Timestamp("at", at.AddMinutes(minutes)).Int32("seq", minutes)
                    .Text("status", status).Text("text", status == "completed" ? "hello" : null).Int64("tokens", tokens)
                    .Money("cost", tokens / 1000m).Timestamp("completed", status == "completed" ? at.AddMinutes(minutes) : null)
                    .ExecuteAsync(default);
            await v5.CommitAsync(default);
        }

        var upgrade = await Open().InitializeAsync();
        Assert.Equal(5, upgrade.FromVersion);
        Assert.Equal(Enumerable.Range(6, PromptActorsStorage.SchemaVersion - 5), upgrade.Applied);

        var after = Open();
        await after.InitializeAsync();
        await after.Runs.UpsertTaskAsync(Task("t-new", RunTaskStatus.Completed, 3, 5));
        var record = await after.Runs.GetRunAsync("run-v5");
        Assert.NotNull(record);
        Assert.Equal(["t-done", "t-open", "t-new"], record.Tasks.Select(t => t.TaskId));
        Assert.Equal(15, record.TotalTokens);
        var open = await after.Runs.FindUnfinishedTasksAsync(updatedBefore: at.AddMinutes(10), createdAfter: at.AddDays(-1), limit: 10);
        Assert.Equal("t-open", Assert.Single(open).TaskId);
        Assert.Equal("instance-v5", open[0].InstanceId);
        if (after.Dialect is PostgresDialect)
        {
            await using var session = await SqlSession.OpenAsync(after.Dialect, default);
            Assert.Equal(["brin"], await session.Sql(
                "SELECT a.amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam WHERE c.relname = 'ai_tasks_created'")
                .QueryAsync(r => r.GetString(0), default));
            Assert.Empty(await session.Sql(
                "SELECT conname FROM pg_constraint WHERE conrelid = 'ai_tasks'::regclass AND contype = 'f'")
                .QueryAsync(r => r.GetString(0), default));
        }
    }

    [Fact]
    public async Task Database_with_a_newer_schema_refuses_to_start_with_a_clear_message()
    {
        var storage = Open();
        await storage.InitializeAsync();
        var future = PromptActorsStorage.SchemaVersion + 5;
        await using (var session = await SqlSession.OpenAsync(storage.Dialect, default))
            await session.Sql("INSERT INTO schema_migrations (version, name) VALUES (@v, 'from the future')").Int32("v", future)
                .ExecuteAsync(default);

        var refused = await Assert.ThrowsAsync<StorageStartupException>(() => Open().InitializeAsync());

        Assert.Contains($"schema version {future}", refused.Message);
        Assert.Contains($"knows versions up to {PromptActorsStorage.SchemaVersion}", refused.Message);
        Assert.Contains(StorageOptions.ConnectionStringKey, refused.Message);
        Assert.Equal(future, (await RecordedVersionsAsync(storage))[^1]);
    }

    [Fact]
    public async Task Nodes_starting_together_apply_each_migration_once()
    {
        var results = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => Open().InitializeAsync())));

        Assert.Equal(Enumerable.Range(1, PromptActorsStorage.SchemaVersion), results.SelectMany(r => r.Applied).Order());
        Assert.All(results, r => Assert.Equal(PromptActorsStorage.SchemaVersion, r.ToVersion));
        Assert.Equal(Enumerable.Range(1, PromptActorsStorage.SchemaVersion), await RecordedVersionsAsync(Open()));
    }
}

public sealed class SqliteMigrationTests(SqliteFiles files) : MigrationTests(files), IClassFixture<SqliteFiles>;

[Collection(PostgresCollection.Name)]
public sealed class PostgresMigrationTests(PostgresFixture postgres) : MigrationTests(postgres);
