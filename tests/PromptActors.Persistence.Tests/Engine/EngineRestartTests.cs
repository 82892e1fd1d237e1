using Microsoft.Extensions.AI;
using PromptActors.Instances;
using PromptActors.Persistence.Tests.Support;
using PromptActors.Testing;
using PromptActors.Variables;
using Xunit.Abstractions;
using PromptActors.Streaming;

namespace PromptActors.Persistence.Tests.Engine;

/// <summary>
/// The real engine on the SQL journal, snapshot store and stores: stop the node, start a new one on the same database,
/// and everything the user saw is still there.
/// </summary>
public abstract class EngineRestartTests(ITestDatabases databases, ITestOutputHelper output) : StorageTestBase(databases)
{
    [Fact]
    public async Task Conversation_variables_and_totals_survive_a_restart()
    {
        string instanceId;
        InstanceView before;
        await using (var node = EngineNode.Start(Storage, output, configure: o => o.Instances.SnapshotEvery = 2))
        {
            await node.SavePromptAsync("travel", "You advise {{org_name}} on travel to {{city}}.");
            await node.Engine.SetScopeVariablesAsync(ScopeKind.Org, "o1", new Dictionary<string, string> { ["org_name"] = "Acme" });
            var view = await node.StartInstanceAsync("travel", new Dictionary<string, string> { ["city"] = "Paris" });
            instanceId = view.InstanceId;
            node.Model.Enqueue(ScriptedReply.Text("Paris", " is lovely."), ScriptedReply.Text("The Louvre."),
                ScriptedReply.Text("Try the Marais."));
            foreach (var input in new[] { "Where to go?", "And museums?", "Where to stay?" })
                Assert.IsType<ReplyCompleted>((await node.SendAsync(instanceId, input)).Reply);
            await node.Engine.UpdateVariablesAsync(instanceId, new Dictionary<string, string> { ["mood"] = "curious" });
            before = await node.Engine.GetInstanceAsync(instanceId);
            await Eventually.AwaitAssertAsync(async () => Assert.Equal(3, (await StoredTasksAsync()).Count(t => t.Status == "completed")));
            // Snapshots go to the SQL snapshot store (not Akka's default files under ./snapshots); saving one is asynchronous.
            await Eventually.AwaitAssertAsync(async () => Assert.True(await CountAsync("snapshot") > 0));
            await node.CrashAsync();
        }

        await using (var node = EngineNode.Start(Storage, output, configure: o => o.Instances.SnapshotEvery = 2))
        {
            var after = await node.Engine.GetInstanceAsync(instanceId);

            Assert.Equal(Turns(before), Turns(after));
            Assert.Equal(6, after.Conversation.Count);
            Assert.Equal(InstanceStatus.Completed, after.Status);
            Assert.Equal(before.Variables!.UserValues, after.Variables!.UserValues);
            Assert.Equal("curious", after.Variables.Merged["mood"]);
            Assert.Equal("Acme", after.Variables.Merged["org_name"]);
            Assert.Equal(before.RunTracking, after.RunTracking with { Synced = before.RunTracking.Synced }); // rows sent again
            Assert.Equal(45, after.RunTracking.TotalTokens);
            Assert.Equal(0.00018m, after.RunTracking.TotalCost);

            // The next turn sends the model the whole recovered history, with the prompt and scoped values from SQL.
            node.Model.Enqueue(ScriptedReply.Text("Bon voyage."));
            Assert.IsType<ReplyCompleted>((await node.SendAsync(instanceId, "Thanks!")).Reply);
            Assert.Equal("""
                system: You advise Acme on travel to Paris.
                user: Where to go?
                assistant: Paris is lovely.
                user: And museums?
                assistant: The Louvre.
                user: Where to stay?
                assistant: Try the Marais.
                user: Thanks!
                """.ReplaceLineEndings("\n"), Text(Assert.Single(node.Model.Requests)));

            var runId = after.RunTracking.RunId!;
            await Eventually.AwaitAssertAsync(async () =>
            {
                var run = await Storage.Runs.GetRunAsync(runId);
                Assert.Equal(4, run!.TaskCount);
                Assert.Equal(60, run.TotalTokens);
                Assert.Equal(0.00024m, run.TotalCost);
                Assert.Equal("idle", run.Status);
                Assert.Equal(
                    ["Where to go?", "Paris is lovely.", "And museums?", "The Louvre.", "Where to stay?", "Try the Marais.", "Thanks!", "Bon voyage."],
                    run.Messages.Select(m => m.Content));
            });
            await AssertTotalsMatchTaskRowsAsync(runId);
            Assert.Equal(1, await CountAsync("ai_runs"));
        }
    }

    [Fact]
    public async Task Instance_pinned_to_a_prompt_version_keeps_it_after_a_new_version_is_saved()
    {
        string pinnedId;
        await using (var node = EngineNode.Start(Storage, output))
        {
            await node.SavePromptAsync("pinned", "You are version one.");
            var pinned = await node.StartInstanceAsync("pinned", promptVersion: 1);
            pinnedId = pinned.InstanceId;
            var v2 = await node.SavePromptAsync("pinned", "You are version two.");
            Assert.Equal(2, v2.Version);

            await node.SendAsync(pinnedId, "Who are you?");
            var fresh = await node.StartInstanceAsync("pinned");
            await node.SendAsync(fresh.InstanceId, "Who are you?");

            Assert.Equal(2, fresh.PromptVersion);
            Assert.Equal(["system: You are version one.\nuser: Who are you?", "system: You are version two.\nuser: Who are you?"],
                node.Model.Requests.Select(Text));
            await node.CrashAsync();
        }

        await using (var node = EngineNode.Start(Storage, output))
        {
            Assert.Equal(1, (await node.Engine.GetInstanceAsync(pinnedId)).PromptVersion);
            await node.SendAsync(pinnedId, "Still you?");
            Assert.StartsWith("system: You are version one.\n", Text(Assert.Single(node.Model.Requests)));
        }
    }

    private static string[] Turns(InstanceView view) =>
        view.Conversation.Select(m => $"{m.Role}:{m.Content}:{m.TaskId}").ToArray();

    private static string Text(IReadOnlyList<ChatMessage> messages) =>
        string.Join("\n", messages.Select(m => $"{m.Role}: {m.Text}"));
}

public sealed class SqliteEngineRestartTests(SqliteFiles files, ITestOutputHelper output)
    : EngineRestartTests(files, output), IClassFixture<SqliteFiles>;

[Collection(PostgresCollection.Name)]
public sealed class PostgresEngineRestartTests(PostgresFixture postgres, ITestOutputHelper output)
    : EngineRestartTests(postgres, output);
