using System.Data.Common;
using PromptActors.Attachments;
using PromptActors.Persistence.Sql;

namespace PromptActors.Persistence.Attachments;

/// <summary>Image and file parts in <c>attachments</c> (migration 011): one row per owner and content.</summary>
internal sealed class SqlAttachmentStore(SqlDialect dialect) : IAttachmentStore
{
    public async Task<string> PutAsync(string owner, byte[] data, string mediaType, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(owner);
        ArgumentNullException.ThrowIfNull(data);
        var sha = AttachmentHash.Of(data);
        await using var session = await SqlSession.OpenAsync(dialect, cancellationToken);
        // The same bytes sent again (by this owner) keep the row there is: content-addressed, stored once.
        await session.Sql("""
                INSERT INTO attachments (owner, sha256, media_type, size_bytes, data)
                VALUES (@owner, @sha256, @media_type, @size, @data)
                ON CONFLICT (owner, sha256) DO NOTHING
                """)
            .Text("owner", owner)
            .Text("sha256", sha)
            .Text("media_type", mediaType)
            .Int64("size", data.LongLength)
            .Bytes("data", data)
            .ExecuteAsync(cancellationToken);
        return sha;
    }

    public async Task<Attachment?> GetAsync(string owner, string sha256, CancellationToken cancellationToken = default)
    {
        await using var session = await SqlSession.OpenAsync(dialect, cancellationToken);
        var rows = await session.Sql("SELECT sha256, media_type, data FROM attachments WHERE owner = @owner AND sha256 = @sha256")
            .Text("owner", owner)
            .Text("sha256", sha256)
            .QueryAsync(Read, cancellationToken);
        return rows.Count == 0 ? null : rows[0];
    }

    public async Task<Attachment?> GetAnyAsync(string sha256, CancellationToken cancellationToken = default)
    {
        await using var session = await SqlSession.OpenAsync(dialect, cancellationToken);
        var rows = await session.Sql("SELECT sha256, media_type, data FROM attachments WHERE sha256 = @sha256 LIMIT 1")
            .Text("sha256", sha256)
            .QueryAsync(Read, cancellationToken);
        return rows.Count == 0 ? null : rows[0];
    }

    private static Attachment Read(DbDataReader r) => new(r.GetString(0), r.GetString(1), (byte[])r.GetValue(2));
}
