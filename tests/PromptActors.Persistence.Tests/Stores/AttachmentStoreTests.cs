using PromptActors.Attachments;
using PromptActors.Persistence.Sql;
using PromptActors.Persistence.Tests.Support;
using PromptActors.Testing;

namespace PromptActors.Persistence.Tests.Stores;

/// <summary>The attachment store on SQLite and PostgreSQL, beside the in-memory one: stored once per owner, read by its owner.</summary>
public abstract class AttachmentStoreTests(ITestDatabases databases) : StorageTestBase(databases)
{
    [Fact]
    public async Task The_same_bytes_are_stored_once_per_owner_and_only_their_owner_reads_them()
    {
        var bytes = Enumerable.Range(0, 70_000).Select(i => (byte)(i * 31)).ToArray();
        foreach (var store in new IAttachmentStore[] { Storage.Attachments, new InMemoryAttachmentStore() })
        {
            var sha = await store.PutAsync("towner-a", bytes, "image/png");
            Assert.Equal(sha, await store.PutAsync("towner-a", bytes, "image/png"));
            Assert.Equal(sha, await store.PutAsync("towner-b", bytes, "image/jpeg"));
            Assert.Equal(AttachmentHash.Of(bytes), sha);

            var own = await store.GetAsync("towner-a", sha);
            Assert.Equal(bytes, own!.Data);
            Assert.Equal("image/png", own.MediaType);
            Assert.Equal("image/jpeg", (await store.GetAsync("towner-b", sha))!.MediaType);
            Assert.Null(await store.GetAsync("towner-c", sha));
            Assert.Null(await store.GetAsync("towner-a", new string('0', 64)));
            Assert.NotNull(await store.GetAnyAsync(sha));
            Assert.Null(await store.GetAnyAsync(new string('0', 64)));
        }
        await using var session = await SqlSession.OpenAsync(Storage.Dialect, default);
        Assert.Equal(2L, Convert.ToInt64(await session.Sql("SELECT COUNT(*) FROM attachments").ScalarAsync(default),
            System.Globalization.CultureInfo.InvariantCulture));
    }
}

public sealed class SqliteAttachmentStoreTests(SqliteFiles files) : AttachmentStoreTests(files), IClassFixture<SqliteFiles>;

[Collection(PostgresCollection.Name)]
public sealed class PostgresAttachmentStoreTests(PostgresFixture postgres) : AttachmentStoreTests(postgres);
