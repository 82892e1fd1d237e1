using System.Data.Common;
using PromptActors.Access;
using PromptActors.Persistence.Sql;
using PromptActors.Variables;

namespace PromptActors.Persistence.Access;

/// <summary>Issued API keys in <c>api_keys</c> (migration 008): looked up by the unique hash, never by the key.</summary>
internal sealed class SqlApiKeyStore(SqlDialect dialect) : IApiKeyStore
{
    private const string Columns =
        "id, key_hash, name, user_id, org_id, project_id, role, created_at, created_by, revoked_at, last_used_at";

    public async Task CreateAsync(StoredApiKey key, CancellationToken cancellationToken = default)
    {
        await using var session = await SqlSession.BeginWriteAsync(dialect, cancellationToken);
        await session.Sql($"""
                INSERT INTO api_keys ({Columns})
                VALUES (@id, @key_hash, @name, @user_id, @org_id, @project_id, @role, @created_at, @created_by, NULL, NULL)
                """)
            .Text("id", key.Id)
            .Text("key_hash", key.KeyHash)
            .Text("name", key.Name)
            .Text("user_id", key.Scope.UserId)
            .Text("org_id", key.Scope.OrgId)
            .Text("project_id", key.Scope.ProjectId)
            .Text("role", key.Role)
            .Timestamp("created_at", key.CreatedAt)
            .Text("created_by", key.CreatedBy)
            .ExecuteAsync(cancellationToken);
        await session.CommitAsync(cancellationToken);
    }

    public async Task<StoredApiKey?> FindByHashAsync(string keyHash, CancellationToken cancellationToken = default)
    {
        await using var session = await SqlSession.OpenAsync(dialect, cancellationToken);
        var rows = await session.Sql($"SELECT {Columns} FROM api_keys WHERE key_hash = @key_hash")
            .Text("key_hash", keyHash)
            .QueryAsync(Read, cancellationToken);
        return rows.Count == 0 ? null : rows[0];
    }

    public async Task<IReadOnlyList<StoredApiKey>> ListAsync(CancellationToken cancellationToken = default)
    {
        await using var session = await SqlSession.OpenAsync(dialect, cancellationToken);
        return await session.Sql($"SELECT {Columns} FROM api_keys ORDER BY created_at, id").QueryAsync(Read, cancellationToken);
    }

    public async Task<bool> RevokeAsync(string id, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        await using var session = await SqlSession.BeginWriteAsync(dialect, cancellationToken);
        await session.Sql("UPDATE api_keys SET revoked_at = @at WHERE id = @id AND revoked_at IS NULL")
            .Text("id", id)
            .Timestamp("at", at)
            .ExecuteAsync(cancellationToken);
        var exists = await session.Sql("SELECT COUNT(*) FROM api_keys WHERE id = @id").Text("id", id).ScalarAsync(cancellationToken);
        await session.CommitAsync(cancellationToken);
        return Convert.ToInt64(exists, System.Globalization.CultureInfo.InvariantCulture) > 0;
    }

    public async Task MarkUsedAsync(string id, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        await using var session = await SqlSession.BeginWriteAsync(dialect, cancellationToken);
        await session.Sql("UPDATE api_keys SET last_used_at = @at WHERE id = @id AND (last_used_at IS NULL OR last_used_at < @at)")
            .Text("id", id)
            .Timestamp("at", at)
            .ExecuteAsync(cancellationToken);
        await session.CommitAsync(cancellationToken);
    }

    private StoredApiKey Read(DbDataReader r) => new(
        r.GetString(0),
        r.GetString(1),
        r.GetStringOrNull(2),
        new InstanceScope(r.GetString(3), r.GetStringOrNull(4), r.GetStringOrNull(5)),
        r.GetString(6),
        dialect.ReadTimestamp(r, 7),
        r.GetStringOrNull(8),
        r.IsDBNull(9) ? null : dialect.ReadTimestamp(r, 9),
        r.IsDBNull(10) ? null : dialect.ReadTimestamp(r, 10));
}
