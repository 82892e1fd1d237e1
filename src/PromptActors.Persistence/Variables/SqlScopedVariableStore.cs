using System.Text;
using PromptActors.Persistence.Sql;
using PromptActors.Variables;

namespace PromptActors.Persistence.Variables;

/// <summary>
/// User, org and project variables in <c>user_variables</c>, <c>org_variables</c>, <c>project_variables</c>.
/// A set replaces the scope's whole map in one transaction: keys not in the new map are deleted, the rest upserted;
/// a row whose value did not change is left alone (its description and updated_at stay). Replacements of one scope
/// take turns, so concurrent sets end with exactly one writer's map, never a mix.
/// </summary>
internal sealed class SqlScopedVariableStore(SqlDialect dialect, TimeProvider time) : IScopedVariableStore
{
    private const int RowsPerInsert = 500;

    public async Task<IReadOnlyDictionary<string, string>> GetAsync(ScopeKind kind, string scopeId, CancellationToken cancellationToken = default)
    {
        await using var session = await SqlSession.OpenAsync(dialect, cancellationToken);
        var rows = await session.Sql($"SELECT key, value FROM {Scope(kind).Table} WHERE scope_id = @scope_id")
            .Text("scope_id", scopeId)
            .QueryAsync(r => (Key: r.GetString(0), Value: r.GetString(1)), cancellationToken);
        var map = new Dictionary<string, string>(rows.Count, StringComparer.Ordinal);
        foreach (var (key, value) in rows)
            map[key] = value;
        return map;
    }

    public async Task SetAsync(ScopeKind kind, string scopeId, IReadOnlyDictionary<string, string> values,
        CancellationToken cancellationToken = default)
    {
        var errors = values.Keys.Where(k => !VariableNames.IsValid(k)).ToList();
        if (errors.Count > 0)
            throw new ValidationFailedException("invalid variable names: " + string.Join(", ", errors));
        var nulls = values.Where(kv => kv.Value is null).Select(kv => kv.Key).ToList();
        if (nulls.Count > 0)
            throw new ValidationFailedException("variables without a value: " + string.Join(", ", nulls));

        var (table, turns) = Scope(kind);
        var entries = values.ToArray();
        var now = time.GetUtcNow();
        await using var session = await SqlSession.BeginWriteAsync(dialect, cancellationToken);
        // Replacements of one scope take turns; interleaved, two writers' maps could end up mixed.
        await session.TakeTurnsAsync(turns, scopeId, cancellationToken);

        var delete = new StringBuilder($"DELETE FROM {table} WHERE scope_id = @scope_id");
        if (entries.Length > 0)
        {
            delete.Append(" AND key NOT IN (");
            for (var i = 0; i < entries.Length; i++)
                delete.Append(i == 0 ? "" : ", ").Append("@k").Append(i);
            delete.Append(')');
        }
        var deleteStatement = session.Sql(delete.ToString()).Text("scope_id", scopeId);
        for (var i = 0; i < entries.Length; i++)
            deleteStatement.Text("k" + i, entries[i].Key);
        await deleteStatement.ExecuteAsync(cancellationToken);

        foreach (var chunk in entries.Chunk(RowsPerInsert))
        {
            var insert = new StringBuilder($"INSERT INTO {table} (scope_id, key, value, updated_at) VALUES ");
            for (var i = 0; i < chunk.Length; i++)
                insert.Append(i == 0 ? "" : ", ").Append($"(@scope_id, @k{i}, @v{i}, @now)");
            insert.Append($" ON CONFLICT (scope_id, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at");
            insert.Append($" WHERE {table}.value <> excluded.value");
            var statement = session.Sql(insert.ToString()).Text("scope_id", scopeId).Timestamp("now", now);
            for (var i = 0; i < chunk.Length; i++)
                statement.Text("k" + i, chunk[i].Key).Text("v" + i, chunk[i].Value);
            await statement.ExecuteAsync(cancellationToken);
        }
        await session.CommitAsync(cancellationToken);
    }

    // Table names come from this switch only, never from input.
    private static (string Table, WriterTurns Turns) Scope(ScopeKind kind) => kind switch
    {
        ScopeKind.User => ("user_variables", WriterTurns.UserScope),
        ScopeKind.Org => ("org_variables", WriterTurns.OrgScope),
        ScopeKind.Project => ("project_variables", WriterTurns.ProjectScope),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown scope kind"),
    };
}
