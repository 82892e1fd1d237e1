using PromptActors.Engine;
using PromptActors.Testing;
using Xunit.Abstractions;

namespace PromptActors.Tests.Support;

/// <summary>The shipped <see cref="PromptActorsTestKit"/> with what this suite's tests share.</summary>
public abstract class EngineTestKit(ITestOutputHelper output, Action<PromptActorsOptions>? configure = null)
    : PromptActorsTestKit(output, configure, "engine-test")
{
    protected static readonly PromptActors.Variables.InstanceScope U1 = TestCaller;

    protected static async Task<TException> Refused<TException>(Func<Task> call) where TException : PromptActorsException =>
        await Assert.ThrowsAsync<TException>(call);

    /// <summary>The run once <paramref name="tasks"/> of its tasks have their final rows.</summary>
    protected async Task<PromptActors.Runs.RunRecord> AwaitRunAsync(string runId, int tasks)
    {
        PromptActors.Runs.RunRecord? run = null;
        await AwaitAssertAsync(async () =>
        {
            run = await Engine.GetRunAsync(runId);
            Assert.Equal(tasks, run!.Tasks.Count(t => t.IsTerminal));
        });
        return run!;
    }

    protected static string Text(IReadOnlyList<Microsoft.Extensions.AI.ChatMessage> messages) =>
        string.Join("\n", messages.Select(m => $"{m.Role}: {m.Text}"));
}
