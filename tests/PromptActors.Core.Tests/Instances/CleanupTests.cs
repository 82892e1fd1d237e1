using PromptActors.Instances;
using PromptActors.Runs;
using PromptActors.Tests.Support;
using Xunit.Abstractions;

namespace PromptActors.Tests.Instances;

/// <summary>Cleanup right after the last reply, while the outbox is still writing that reply's row.</summary>
public sealed class CleanupTests(ITestOutputHelper output)
    : EngineTestKit(output, o => o.Instances.CleanupSyncWait = TimeSpan.FromSeconds(1))
{
    [Fact]
    public async Task Cleanup_right_after_the_reply_waits_for_the_outbox_instead_of_being_refused()
    {
        await SavePromptAsync("p", "x", "Hi");
        var view = await StartAsync("p");
        Runs.FailWritesWith = new InvalidOperationException("database slow");
        await Engine.ExecuteMessageAsync(view.InstanceId);
        await Engine.WaitForReplyAsync(view.InstanceId);

        var cleanup = Engine.CleanupAsync(view.InstanceId);
        await Engine.GetInstanceAsync(view.InstanceId); // the instance has the cleanup; it waits for the final row
        Assert.False(cleanup.IsCompleted);
        Runs.FailWritesWith = null; // the outbox's next retry lands

        await cleanup;
        await Refused<InstanceExpiredException>(() => Engine.GetInstanceAsync(view.InstanceId));
        Assert.Equal(RunTaskStatus.Completed, Assert.Single(Runs.Tasks).Status);
    }

    [Fact]
    public async Task Cleanup_is_refused_with_store_unavailable_when_the_rows_cannot_be_written_in_time_and_changes_nothing()
    {
        await SavePromptAsync("p", "x", "Hi");
        var view = await StartAsync("p");
        Runs.FailWritesWith = new InvalidOperationException("database down");
        await SendAsync(view.InstanceId);

        await Refused<StoreUnavailableException>(() => Engine.CleanupAsync(view.InstanceId));
        Assert.Equal(InstanceStatus.Completed, (await Engine.GetInstanceAsync(view.InstanceId)).Status);

        Runs.FailWritesWith = null;
        await AwaitAssertAsync(() => Engine.CleanupAsync(view.InstanceId));
        Assert.Equal(RunTaskStatus.Completed, Assert.Single(Runs.Tasks).Status);
    }
}
