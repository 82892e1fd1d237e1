using PromptActors.Instances;
using PromptActors.Persistence.Tests.Support;
using Xunit.Abstractions;
using PromptActors.Streaming;

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

    [Fact]
    public async Task While_the_breaker_is_open_a_recovery_is_refused_at_once_and_the_node_reports_not_ready()
    {
        await using var node = EngineNode.Start(Storage, output, configure: o => o.AskTimeout = TimeSpan.FromSeconds(25));
        await node.SavePromptAsync("breaker", "You answer briefly.");
        var instanceId = (await node.StartInstanceAsync("breaker")).InstanceId;
        Assert.Null(await PromptActors.Engine.PersistenceHealth.ProbeAsync(node.System, TimeSpan.FromSeconds(5)));

        await postgres.Server.StopAsync();
        try
        {
            // Enough failed journal calls to open the breaker (max-failures = 10): each failed write stops the instance,
            // and each next command's recovery fails too.
            // None may wait for its timeout: a command that reaches the instance while it stops is sent again, then refused.
            var refusing = System.Diagnostics.Stopwatch.StartNew();
            for (var i = 0; i < 12; i++)
                await Assert.ThrowsAsync<StoreUnavailableException>(() => node.Engine.ExecuteMessageAsync(instanceId, "during"));
            Assert.True(refusing.Elapsed < TimeSpan.FromSeconds(10), $"12 refusals took {refusing.Elapsed}");
            Assert.NotNull(await PromptActors.Engine.PersistenceHealth.ProbeAsync(node.System, TimeSpan.FromSeconds(5)));

            // An instance that must recover meets the open breaker: its caller hears store_unavailable at once, not after a
            // recovery timeout.
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var refused = await Assert.ThrowsAsync<StoreUnavailableException>(() => node.Engine.GetInstanceAsync("recovering-" + instanceId));
            output.WriteLine($"refused after {clock.Elapsed.TotalMilliseconds:F0} ms: {refused.Message}");
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"the recovery was refused only after {clock.Elapsed}");
        }
        finally
        {
            await postgres.Server.StartAgainAsync();
        }

        // Ready again within a few seconds of the database's return (the breakers reset after 2 s).
        var back = System.Diagnostics.Stopwatch.StartNew();
        await Eventually.AwaitAssertAsync(async () =>
            Assert.Null(await PromptActors.Engine.PersistenceHealth.ProbeAsync(node.System, TimeSpan.FromSeconds(5))), TimeSpan.FromSeconds(15));
        output.WriteLine($"ready {back.Elapsed.TotalSeconds:F1} s after the database was back");
        await Eventually.AwaitAssertAsync(async () =>
            Assert.IsType<ReplyCompleted>((await node.SendAsync(instanceId, "after")).Reply), TimeSpan.FromSeconds(15));
    }
}
