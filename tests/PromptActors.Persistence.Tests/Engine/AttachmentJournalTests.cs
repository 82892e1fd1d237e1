using PromptActors.Attachments;
using PromptActors.Persistence.Sql;
using PromptActors.Persistence.Tests.Support;
using PromptActors.Streaming;
using Xunit.Abstractions;

namespace PromptActors.Persistence.Tests.Engine;

/// <summary>A 5 MB image through the engine on PostgreSQL: the journal keeps a reference, the bytes are in attachments once.</summary>
[Collection(PostgresCollection.Name)]
public sealed class AttachmentJournalTests(PostgresFixture postgres, ITestOutputHelper output) : StorageTestBase(postgres)
{
    [Fact]
    public async Task A_turn_with_a_5_MB_image_adds_under_1_KB_to_the_journal_and_survives_a_restart()
    {
        var image = new byte[5 * 1024 * 1024];
        new Random(7).NextBytes(image);
        string id;
        long before, after;
        await using (var node = EngineNode.Start(Storage, output))
        {
            await node.SavePromptAsync("look", "Describe.");
            id = (await node.StartInstanceAsync("look")).InstanceId;
            before = await JournalBytesAsync();
            node.Model.Enqueue(PromptActors.Testing.ScriptedReply.Text("A picture."));
            await node.Engine.SendAsync(id, new MessageInput("What is this?", [PartInput.ImageData(image, "image/jpeg")]));
            Assert.IsType<ReplyCompleted>(await node.Engine.WaitForReplyAsync(id));
            after = await JournalBytesAsync();
            var sent = Assert.Single(node.Model.Requests).Last();
            Assert.Equal(image, Assert.IsType<Microsoft.Extensions.AI.DataContent>(sent.Contents[1]).Data.ToArray());
        }
        output.WriteLine($"journal grew by {after - before} bytes for the turn (submitted and completed events) with a 5 MB image");
        Assert.InRange(after - before, 1, 1023);
        Assert.Equal(1L, await ScalarAsync("SELECT COUNT(*) FROM attachments"));
        Assert.Equal((long)image.Length, await ScalarAsync("SELECT SUM(size_bytes) FROM attachments"));

        // After a restart the reference still finds the bytes (a follow-up sends the history's image again).
        await using var again = EngineNode.Start(Storage, output);
        again.Model.Enqueue(PromptActors.Testing.ScriptedReply.Text("Still a picture."));
        var user = (await again.Engine.GetInstanceAsync(id)).Conversation.First(m => m.Role == PromptActors.Prompts.MessageRole.User);
        Assert.Equal(AttachmentHash.Of(image), user.Parts![0].Sha256);
        var (_, reply) = await again.SendAsync(id, "and now?");
        Assert.IsType<ReplyCompleted>(reply);
        var history = Assert.Single(again.Model.Requests).First(m => m.Contents.Count > 1);
        Assert.Equal(image.Length, Assert.IsType<Microsoft.Extensions.AI.DataContent>(history.Contents[1]).Data.Length);
    }

    private Task<long> JournalBytesAsync() => ScalarAsync("SELECT COALESCE(SUM(octet_length(message)), 0) FROM journal");

    private async Task<long> ScalarAsync(string sql)
    {
        await using var session = await SqlSession.OpenAsync(Storage.Dialect, default);
        return Convert.ToInt64(await session.Sql(sql).ScalarAsync(default), System.Globalization.CultureInfo.InvariantCulture);
    }
}
