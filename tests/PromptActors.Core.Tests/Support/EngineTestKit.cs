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

    protected static string Text(IReadOnlyList<Microsoft.Extensions.AI.ChatMessage> messages) =>
        string.Join("\n", messages.Select(m => $"{m.Role}: {m.Text}"));
}
