using System.Data.Common;
using PromptActors.Persistence.Sql;
using PromptActors.Prompts;
using PromptActors.Variables;

namespace PromptActors.Persistence.Prompts;

/// <summary>
/// Prompts in the <c>prompts</c> table, one row per (owner, id, version). A save inserts version MAX+1 in one statement.
/// Saves of one owner's id take turns (a PostgreSQL advisory lock on the id; SQLite has one writer anyway), so each reads the
/// version the previous save committed and versions stay 1, 2, 3… however many save at once. Should a writer that
/// does not take the lock (an older build during a rolling upgrade) win a version first, the primary key refuses the
/// duplicate and the save retries.
/// </summary>
internal sealed class SqlPromptStore(SqlDialect dialect, TimeProvider time) : IPromptStore
{
    private const int MaxSaveAttempts = 8;

    private const string Columns =
        "id, version, name, description, messages, variable_defaults, settings, missing_variables, created_at, updated_at, " +
        "owner_kind, owner_id";

    private const string OwnerIs = "owner_kind = @owner_kind AND owner_id = @owner_id";

    public Task<Prompt?> GetAsync(string id, int? version, CancellationToken cancellationToken = default) =>
        GetAsync(PromptOwner.BuiltIn, id, version, cancellationToken);

    public Task<Prompt> SaveAsync(PromptDefinition definition, CancellationToken cancellationToken = default) =>
        SaveAsync(definition, PromptOwner.BuiltIn, cancellationToken);

    public async Task<Prompt?> GetAsync(PromptOwner owner, string id, int? version, CancellationToken cancellationToken = default)
    {
        await using var session = await SqlSession.OpenAsync(dialect, cancellationToken);
        return await GetAsync(session, owner, id, version, cancellationToken);
    }

    private async Task<Prompt?> GetAsync(SqlSession session, PromptOwner owner, string id, int? version, CancellationToken cancellationToken)
    {
        var statement = version is null
            ? session.Sql($"SELECT {Columns} FROM prompts WHERE {OwnerIs} AND id = @id ORDER BY version DESC LIMIT 1")
            : session.Sql($"SELECT {Columns} FROM prompts WHERE {OwnerIs} AND id = @id AND version = @version").Int32("version", version);
        var rows = await statement.Text("owner_kind", owner.KindName).Text("owner_id", owner.ScopeId).Text("id", id)
            .QueryAsync(Read, cancellationToken);
        return rows.Count == 0 ? null : rows[0];
    }

    public async Task<Prompt?> ResolveAsync(InstanceScope scope, string id, int? version, CancellationToken cancellationToken = default)
    {
        var order = PromptOwner.ResolutionOrder(scope);
        var candidates = new System.Text.StringBuilder();
        for (var i = 0; i < order.Count; i++)
            candidates.Append(i == 0 ? "" : " OR ").Append($"(owner_kind = @k{i} AND owner_id = @o{i})");
        await using var session = await SqlSession.OpenAsync(dialect, cancellationToken);
        // The latest version of each candidate owner that has the id; the first owner in the order decides.
        var statement = session.Sql($"SELECT {Columns} FROM prompts WHERE id = @id AND ({candidates}) ORDER BY version DESC")
            .Text("id", id);
        for (var i = 0; i < order.Count; i++)
            statement.Text($"k{i}", order[i].KindName).Text($"o{i}", order[i].ScopeId);
        var rows = await statement.QueryAsync(Read, cancellationToken);
        var winner = order.FirstOrDefault(owner => rows.Exists(p => p.OwnedBy == owner));
        if (winner is null)
            return null;
        if (version is null)
            return rows.First(p => p.OwnedBy == winner);
        return rows.FirstOrDefault(p => p.OwnedBy == winner && p.Version == version)
               ?? (rows.Exists(p => p.OwnedBy == winner && p.Version > version)
                   ? await GetAsync(session, winner, id, version, cancellationToken)
                   : null);
    }

    public async Task<IReadOnlyList<Prompt>> ListAsync(InstanceScope? scope, int limit, CancellationToken cancellationToken = default)
    {
        if (limit <= 0)
            return [];
        var order = scope is null ? [PromptOwner.BuiltIn] : PromptOwner.ResolutionOrder(scope);
        var candidates = Candidates(order, "p.");
        await using var session = await SqlSession.OpenAsync(dialect, cancellationToken);
        // The latest version per (owner, id) of the candidate owners (the version lookup rides on prompts_by_id), then per id
        // the first owner in the resolution order.
        var statement = session.Sql($"""
            SELECT {PrefixedColumns("p.")} FROM prompts p
            WHERE ({candidates})
              AND p.version = (SELECT MAX(q.version) FROM prompts q
                               WHERE q.id = p.id AND q.owner_kind = p.owner_kind AND q.owner_id = p.owner_id)
            """);
        BindCandidates(statement, order);
        var rows = await statement.QueryAsync(Read, cancellationToken);
        return rows.GroupBy(p => p.Id, StringComparer.Ordinal)
            .Select(g => g.OrderBy(p => IndexOf(order, p.OwnedBy)).First())
            .OrderBy(p => p.Id, StringComparer.Ordinal)
            .Take(limit)
            .ToArray();
    }

    public async Task<IReadOnlyList<Prompt>> VersionsAsync(InstanceScope? scope, string id, int limit, CancellationToken cancellationToken = default)
    {
        if (limit <= 0)
            return [];
        var order = scope is null ? [PromptOwner.BuiltIn] : PromptOwner.ResolutionOrder(scope);
        await using var session = await SqlSession.OpenAsync(dialect, cancellationToken);
        var statement = session.Sql($"SELECT {Columns} FROM prompts WHERE id = @id AND ({Candidates(order, "")}) ORDER BY version DESC")
            .Text("id", id);
        BindCandidates(statement, order);
        var rows = await statement.QueryAsync(Read, cancellationToken);
        var winner = order.FirstOrDefault(owner => rows.Exists(p => p.OwnedBy == owner));
        return winner is null ? [] : rows.Where(p => p.OwnedBy == winner).Take(limit).ToArray();
    }

    private static string Candidates(IReadOnlyList<PromptOwner> order, string prefix)
    {
        var candidates = new System.Text.StringBuilder();
        for (var i = 0; i < order.Count; i++)
            candidates.Append(i == 0 ? "" : " OR ").Append($"({prefix}owner_kind = @k{i} AND {prefix}owner_id = @o{i})");
        return candidates.ToString();
    }

    private static void BindCandidates(SqlStatement statement, IReadOnlyList<PromptOwner> order)
    {
        for (var i = 0; i < order.Count; i++)
            statement.Text($"k{i}", order[i].KindName).Text($"o{i}", order[i].ScopeId);
    }

    private static string PrefixedColumns(string prefix) => string.Join(", ", Columns.Split(", ").Select(c => prefix + c));

    private static int IndexOf(IReadOnlyList<PromptOwner> order, PromptOwner owner)
    {
        for (var i = 0; i < order.Count; i++)
        {
            if (order[i] == owner)
                return i;
        }
        return int.MaxValue;
    }

    public async Task<Prompt> SaveAsync(PromptDefinition definition, PromptOwner owner, CancellationToken cancellationToken = default)
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
                await session.TakeTurnsAsync(WriterTurns.Prompt, owner + "/" + definition.Id, cancellationToken);
                var saved = await session.Sql($"""
                        INSERT INTO prompts ({Columns})
                        SELECT @id, COALESCE(MAX(version), 0) + 1, @name, @description, @messages, @variable_defaults,
                               @settings, @missing_variables, COALESCE(MIN(created_at), @now), @now, @owner_kind, @owner_id
                        FROM prompts WHERE {OwnerIs} AND id = @id
                        RETURNING version, created_at
                        """)
                    .Text("id", definition.Id)
                    .Text("owner_kind", owner.KindName)
                    .Text("owner_id", owner.ScopeId)
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
                    settings, definition.MissingVariables, createdAt, Truncate(now), owner);
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
        dialect.ReadTimestamp(r, 9),
        ReadOwner(r.GetString(10), r.GetString(11)));

    private static PromptOwner ReadOwner(string kind, string id) =>
        PromptOwner.ParseKind(kind) is { } k and not PromptOwnerKind.BuiltIn ? new PromptOwner(k, id) : PromptOwner.BuiltIn;

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
