using PromptActors.Instances;
using PromptActors.Persistence.Tests.Support;
using Xunit.Abstractions;

namespace PromptActors.Persistence.Tests.Engine;

/// <summary>While the journal's database is down, commands that must write are refused with store_unavailable (not left
/// waiting), nothing half-happens, and the same instance works again once the database is back.</summary>
public sealed class JournalOutageTests(PrivatePostgres postgres, ITestOutputHelper output)
    : StorageTestBase(postgres), IClassFixture<PrivatePostgres>
{
    [Fact]
    public async Task Commands_fail_with_store_unavailable_during_a_journal_outage_and_work_again_after_it()
    {
        await using var node = EngineNode.Start(Storage, output, configure: o => o.AskTimeout = TimeSpan.FromSeconds(20));
        await node.SavePromptAsync("outage", "You answer briefly.");
        var instanceId = (await node.StartInstanceAsync("outage")).InstanceId;
        await node.SendAsync(instanceId, "before");

        await postgres.Server.StopAsync();
        var refused = await Assert.ThrowsAsync<StoreUnavailableException>(() => node.Engine.ExecuteMessageAsync(instanceId, "during"));
        Assert.Contains("nothing was changed", refused.Message);

        await postgres.Server.StartAgainAsync();
        // The first writes after the restart may meet connections the restart broke; the instance comes back on its own.
        // A refused or interrupted attempt leaves no trace, so sending again is safe.
        await Eventually.AwaitAssertAsync(async () =>
        {
            var (_, reply) = await node.SendAsync(instanceId, "after");
            Assert.IsType<ReplyCompleted>(reply);
        }, TimeSpan.FromSeconds(30));

        var view = await node.Engine.GetInstanceAsync(instanceId);
        Assert.Equal(new[] { "before", "ok", "after", "ok" }, view.Conversation.Select(m => m.Content));
        Assert.DoesNotContain(view.Conversation, m => m.Content == "during");
    }
}
