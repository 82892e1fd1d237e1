using System.Collections.Concurrent;
using Microsoft.Extensions.AI;
using PromptActors.Instances;
using PromptActors.Persistence.Sql;
using PromptActors.Persistence.Tests.Support;
using PromptActors.Prompts;
using PromptActors.Streaming;
using PromptActors.Testing;
using PromptActors.Tools;
using Xunit.Abstractions;

namespace PromptActors.Persistence.Tests.Engine;

/// <summary>
/// The tool loop across a crash on the SQL journal: tool A completed, tool B running when the node dies; a new node on the
/// same database never repeats A, applies B's policy, completes the turn, and ai_tool_calls holds one row per call.
/// </summary>
public abstract class ToolCrashTests(ITestDatabases databases, ITestOutputHelper output) : StorageTestBase(databases)
{
    // Side effects outside the engine: calls per tool, and the idempotency keys B was called with.
    private readonly ConcurrentDictionary<string, int> _calls = new();
    private readonly ConcurrentQueue<string> _keysOfB = new();
    private readonly TaskCompletionSource _bStarted = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private void Register(ToolCollection tools, ToolPolicy policyOfB, bool bFinishes) => tools
        .Add(AIFunctionFactory.Create((string item) =>
        {
            _calls.AddOrUpdate("a", 1, (_, n) => n + 1);
            return "reserved " + item;
        }, "reserve"))
        .Add(AIFunctionFactory.Create(async (string item, AIFunctionArguments args, CancellationToken ct) =>
        {
            _calls.AddOrUpdate("b", 1, (_, n) => n + 1);
            _keysOfB.Enqueue(ToolCallContext.From(args)!.IdempotencyKey);
            _bStarted.TrySetResult();
            if (!bFinishes)
                await Task.Delay(Timeout.Infinite, ct); // the node dies meanwhile
            return "charged " + item;
        }, "charge"), policyOfB);

    [Theory]
    [InlineData(ToolPolicy.Idempotent)]
    [InlineData(ToolPolicy.AtMostOnce)]
    public async Task A_completed_call_is_never_repeated_and_the_running_one_follows_its_policy_after_a_crash(ToolPolicy policyOfB)
    {
        string instanceId, taskId;
        await using (var node = EngineNode.Start(Storage, output, configure: o => Register(o.Tools, policyOfB, bFinishes: false)))
        {
            await node.Engine.SavePromptAsync(new PromptDefinition("shop", "shop", [new(MessageRole.System, "Shop.")],
                Settings: new PromptSettings(EngineNode.ScriptedModel, Tools: ["reserve", "charge"])));
            instanceId = (await node.StartInstanceAsync("shop")).InstanceId;
            node.Model.Enqueue(ScriptedReply.Calls(("a", "reserve", """{"item":"lamp"}"""), ("b", "charge", """{"item":"lamp"}""")));
            taskId = (await node.Engine.ExecuteMessageAsync(instanceId, "buy the lamp")).TaskId;
            await _bStarted.Task.WaitAsync(TimeSpan.FromSeconds(20));
            // A's result is journaled before anything else happens to the turn.
            await Eventually.AwaitAssertAsync(async () => Assert.Contains((await node.Engine.GetInstanceAsync(instanceId)).Conversation,
                m => m.Role == MessageRole.Tool && m.ToolCallId == "a"));
            await node.CrashAsync();
        }

        await using (var node = EngineNode.Start(Storage, output, configure: o => Register(o.Tools, policyOfB, bFinishes: true)))
        {
            node.Model.Enqueue(ScriptedReply.Text("Bought."));
            await node.Engine.GetInstanceAsync(instanceId); // wakes it (the task sweeper would, a minute later)

            var done = Assert.IsType<ReplyCompleted>(await node.Engine.WaitForReplyAsync(instanceId));

            Assert.Equal("Bought.", done.Text);
            Assert.Equal(1, _calls["a"]);
            var results = Assert.Single(node.Model.Requests).SelectMany(m => m.Contents).OfType<FunctionResultContent>()
                .ToDictionary(r => r.CallId, r => r.Result?.ToString() ?? "");
            Assert.Equal("reserved lamp", results["a"]);
            if (policyOfB == ToolPolicy.Idempotent)
            {
                Assert.Equal(2, _calls["b"]);
                Assert.Equal([taskId + ":b", taskId + ":b"], _keysOfB.ToArray());
                Assert.Equal("charged lamp", results["b"]);
            }
            else
            {
                Assert.Equal(1, _calls["b"]);
                Assert.StartsWith("outcome_unknown", results["b"]);
            }
            var expected = policyOfB == ToolPolicy.Idempotent ? "completed" : "outcome_unknown";
            await Eventually.AwaitAssertAsync(async () =>
                Assert.Equal([("a", "reserve", "completed"), ("b", "charge", expected)], await LedgerAsync(taskId)));
            var run = await Storage.Runs.GetRunAsync((await node.Engine.GetInstanceAsync(instanceId)).RunTracking.RunId!);
            var row = Assert.Single(run!.Tasks);
            Assert.Equal(["a", "b"], row.ToolCalls!.Select(c => c.CallId));
            Assert.Equal(policyOfB == ToolPolicy.Idempotent ? "idempotent" : "at_most_once", row.ToolCalls![1].Policy);

            // One ai_tasks row per model call: the turn's own (step 0, costed before the crash) and the call after it.
            var rows = (await StoredTasksAsync()).Where(t => t.RunId == run.Info.RunId).OrderBy(t => t.Step).ToList();
            Assert.Equal([(taskId, 0, (string?)null, "completed"), (taskId + ".1", 1, taskId, "completed")],
                rows.Select(t => (t.TaskId, t.Step, t.TurnTaskId, t.Status)));
            Assert.All(rows, t => Assert.True(t.TokensTotal > 0, $"row {t.TaskId} has no tokens"));
            Assert.Equal([0, 1], row.ModelCalls!.Select(c => c.Step));
            Assert.Equal(rows.Select(t => t.TokensTotal), row.ModelCalls!.Select(c => c.TokensTotal));
            Assert.Equal(rows.Sum(t => t.TokensTotal), row.TokensTotal);
            Assert.Equal(row.TokensTotal, run.TotalTokens);
            Assert.Equal(2, run.MessageCount); // the user's message and the final reply: a model call is not a message
            await AssertTotalsMatchTaskRowsAsync(run.Info.RunId);
        }
    }

    private async Task<List<(string, string, string)>> LedgerAsync(string taskId)
    {
        await using var session = await SqlSession.OpenAsync(Storage.Dialect, default);
        return await session.Sql("SELECT call_id, tool, status FROM ai_tool_calls WHERE task_id = @t ORDER BY ordinal")
            .Text("t", taskId).QueryAsync(r => (r.GetString(0), r.GetString(1), r.GetString(2)), default);
    }
}

public sealed class SqliteToolCrashTests(SqliteFiles files, ITestOutputHelper output)
    : ToolCrashTests(files, output), IClassFixture<SqliteFiles>;

[Collection(PostgresCollection.Name)]
public sealed class PostgresToolCrashTests(PostgresFixture postgres, ITestOutputHelper output)
    : ToolCrashTests(postgres, output);
