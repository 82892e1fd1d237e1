using System.Data.Common;
using PromptActors.Persistence.Sql;
using PromptActors.Prompts;
using PromptActors.Variables;

namespace PromptActors.Persistence.Prompts;

/// <summary>
/// Prompts in the <c>prompts</c> table, one row per (id, version). A save inserts version MAX+1 in one statement.
/// Saves of one id take turns (a PostgreSQL advisory lock on the id; SQLite has one writer anyway), so each reads the
/// version the previous save committed and versions stay 1, 2, 3… however many save at once. Should a writer that
/// does not take the lock (an older build during a rolling upgrade) win a version first, the primary key refuses the
/// duplicate and the save retries.
/// </summary>
internal sealed class SqlPromptStore(SqlDialect dialect, TimeProvider time) : IPromptStore
{
    private const int MaxSaveAttempts = 8;

    private const string Columns =
        "id, version, name, description, messages, variable_defaults, settings, missing_variables, created_at, updated_at";

    public async Task<Prompt?> GetAsync(string id, int? version, CancellationToken cancellationToken = default)
    {
        await using var session = await SqlSession.OpenAsync(dialect, cancellationToken);
        var statement = version is null
            ? session.Sql($"SELECT {Columns} FROM prompts WHERE id = @id ORDER BY version DESC LIMIT 1").Text("id", id)
            : session.Sql($"SELECT {Columns} FROM prompts WHERE id = @id AND version = @version").Text("id", id).Int32("version", version);
        var rows = await statement.QueryAsync(Read, cancellationToken);
        return rows.Count == 0 ? null : rows[0];
    }

    public async Task<Prompt> SaveAsync(PromptDefinition definition, CancellationToken cancellationToken = default)
    {
        var errors = PromptValidation.Validate(definition);
        if (errors.Count > 0)
            throw new ValidationFailedException(string.Join("; ", errors));

        var messages = definition.Messages.ToArray();
        var defaults = (definition.VariableDefaults ?? []).ToArray();
        var settings = definition.Settings ?? PromptSettings.Default;
        for (var attempt = 1; ; attempt++)
        {
            var now = time.GetUtcNow();
            try
            {
                await using var session = await SqlSession.BeginWriteAsync(dialect, cancellationToken);
                await session.TakeTurnsAsync(WriterTurns.Prompt, definition.Id, cancellationToken);
                var saved = await session.Sql($"""
                        INSERT INTO prompts ({Columns})
                        SELECT @id, COALESCE(MAX(version), 0) + 1, @name, @description, @messages, @variable_defaults,
                               @settings, @missing_variables, COALESCE(MIN(created_at), @now), @now
                        FROM prompts WHERE id = @id
                        RETURNING version, created_at
                        """)
                    .Text("id", definition.Id)
                    .Text("name", definition.Name)
                    .Text("description", definition.Description)
                    .Json("messages", StorageJson.Serialize(messages))
                    .Json("variable_defaults", StorageJson.Serialize(defaults))
                    .Json("settings", StorageJson.Serialize(settings))
                    .Text("missing_variables", PolicyName(definition.MissingVariables))
                    .Timestamp("now", now)
                    .QueryAsync(r => (Version: r.GetInt32(0), CreatedAt: dialect.ReadTimestamp(r, 1)), cancellationToken);
                await session.CommitAsync(cancellationToken);
                var (version, createdAt) = saved[0];
                return new Prompt(definition.Id, version, definition.Name, definition.Description, messages, defaults,
                    settings, definition.MissingVariables, createdAt, Truncate(now));
            }
            catch (Exception ex) when (attempt < MaxSaveAttempts && dialect.IsUniqueViolation(ex))
            {
                // Another save of this id took the version first; take the next one.
            }
        }
    }

    private Prompt Read(DbDataReader r) => new(
        r.GetString(0),
        r.GetInt32(1),
        r.GetString(2),
        r.GetStringOrNull(3),
        StorageJson.Deserialize<PromptMessage[]>(r.GetString(4)),
        StorageJson.Deserialize<VariableDefault[]>(r.GetString(5)),
        StorageJson.Deserialize<PromptSettings>(r.GetString(6)),
        ParsePolicy(r.GetString(7)),
        dialect.ReadTimestamp(r, 8),
        dialect.ReadTimestamp(r, 9));

    private static string PolicyName(MissingVariablePolicy policy) => policy switch
    {
        MissingVariablePolicy.Keep => "keep",
        MissingVariablePolicy.Empty => "empty",
        _ => "error",
    };

    private static MissingVariablePolicy ParsePolicy(string name) => name switch
    {
        "keep" => MissingVariablePolicy.Keep,
        "empty" => MissingVariablePolicy.Empty,
        _ => MissingVariablePolicy.Error,
    };

    /// <summary>Both databases keep microseconds; the returned prompt says what a later read will say.</summary>
    internal static DateTimeOffset Truncate(DateTimeOffset at) =>
        new(at.UtcTicks - at.UtcTicks % 10, TimeSpan.Zero);
}
