using System.Diagnostics;
using System.Text.Json;
using Xunit.Abstractions;

namespace PromptActors.Cluster.Tests.Support;

/// <summary>The invariants a failover must keep, checked against the API and the database.</summary>
public static class Consistency
{
    /// <summary>Waits (polling, bounded) until no ai_tasks row is pending or streaming; returns how long that took.</summary>
    public static async Task<TimeSpan> WaitNoOpenTasksAsync(ClusterFixture cluster, TimeSpan bound)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var open = await cluster.QueryAsync(
                "SELECT task_id || ' ' || status || ' ' || updated_at FROM ai_tasks WHERE status IN ('pending', 'streaming')",
                r => { var l = new List<string>(); while (r.Read()) l.Add(r.GetString(0)); return l; });
            if (open.Count == 0)
                return clock.Elapsed;
            if (clock.Elapsed > bound)
                Assert.Fail($"{open.Count} task row(s) still pending or streaming after {bound}: {string.Join("; ", open.Take(5))}\n{cluster.Logs(20)}");
            await Task.Delay(500);
        }
    }

    /// <summary>
    /// Every completed reply is in its conversation and in ai_tasks exactly once; no message text completed twice; run totals
    /// equal the sums of their task rows; each instance's own totals equal its run's.
    /// </summary>
    public static async Task VerifyAsync(ClusterFixture cluster, IReadOnlyList<string> instances, IReadOnlyCollection<CompletedReply> completed,
        ITestOutputHelper output)
    {
        // ai_tasks: each completed reply is one completed row with the same text.
        var rows = await cluster.QueryAsync(
            "SELECT task_id, status, COALESCE(response_text, ''), request_data ->> 'userMessage' FROM ai_tasks",
            r => { var d = new Dictionary<string, (string Status, string Text, string? User)>(); while (r.Read()) d[r.GetString(0)] = (r.GetString(1), r.GetString(2), r.IsDBNull(3) ? null : r.GetString(3)); return d; });
        foreach (var c in completed)
        {
            Assert.True(rows.TryGetValue(c.TaskId, out var row), $"completed task {c.TaskId} ({c.UserMessage}) has no ai_tasks row");
            Assert.Equal("completed", row.Status);
            Assert.Equal(c.Text, row.Text);
            Assert.Equal(c.UserMessage, row.User);
        }
        var duplicates = rows.Values.Where(r => r.Status == "completed" && r.User is not null)
            .GroupBy(r => r.User).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        if (duplicates.Count > 0)
            Assert.Fail("messages completed more than once: " + string.Join(", ", duplicates) + "\n" +
                        await Diagnostics.DescribeDuplicatesAsync(cluster, duplicates.Select(d => d!).ToList()));

        // Totals are derived from task rows (one per model call; task_count counts turns): nothing double counted.
        var badRuns = await cluster.QueryAsync("""
            SELECT r.id, r.total_tokens, r.task_count, r.total_cost, COALESCE(SUM(t.tokens_total), 0),
                   COUNT(t.task_id) FILTER (WHERE t.step = 0), COALESCE(SUM(t.cost), 0)
            FROM ai_runs r LEFT JOIN ai_tasks t ON t.run_id = r.id
            GROUP BY r.id, r.total_tokens, r.task_count, r.total_cost
            HAVING r.total_tokens <> COALESCE(SUM(t.tokens_total), 0) OR r.task_count <> COUNT(t.task_id) FILTER (WHERE t.step = 0)
                OR r.total_cost <> COALESCE(SUM(t.cost), 0)
            """, r => { var l = new List<string>(); while (r.Read()) l.Add($"{r.GetString(0)}: {r.GetInt64(1)} tokens vs {r.GetInt64(4)}, {r.GetInt32(2)} tasks vs {r.GetInt64(5)}"); return l; });
        Assert.True(badRuns.Count == 0, "runs whose totals differ from their task rows: " + string.Join("; ", badRuns));
        var runTokens = await cluster.QueryAsync("SELECT id, total_tokens FROM ai_runs",
            r => { var d = new Dictionary<string, long>(); while (r.Read()) d[r.GetString(0)] = r.GetInt64(1); return d; });

        // Conversations: every completed reply exactly once, no message twice.
        var byInstance = completed.ToLookup(c => c.InstanceId);
        foreach (var id in instances)
        {
            var view = await GetWithRetryAsync(cluster, id);
            var messages = view.GetProperty("conversation").GetProperty("messages").EnumerateArray()
                .Select(m => (Role: m.GetProperty("role").GetString()!, Content: m.GetProperty("content").GetString()!,
                    TaskId: m.GetProperty("taskId").GetString())).ToList();
            foreach (var c in byInstance[id])
            {
                Assert.Single(messages, m => m.Role == "user" && m.Content == c.UserMessage && m.TaskId == c.TaskId);
                Assert.Single(messages, m => m.Role == "assistant" && m.Content == c.Text && m.TaskId == c.TaskId);
            }
            // In the order the client saw them complete (one instance runs one task at a time).
            var positions = byInstance[id].OrderBy(c => c.At)
                .Select(c => messages.FindIndex(m => m.Role == "assistant" && m.TaskId == c.TaskId)).ToList();
            Assert.True(positions.SequenceEqual(positions.Order()), $"instance {id} holds its completed replies out of order");
            var repeated = messages.Where(m => m.Role == "user").GroupBy(m => m.Content).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
            Assert.True(repeated.Count == 0, $"instance {id} holds messages twice: {string.Join(", ", repeated)}");
            var tracking = view.GetProperty("runTracking");
            var runId = tracking.GetProperty("runId").GetString();
            if (runId is not null)
                Assert.Equal(runTokens[runId], tracking.GetProperty("totalTokens").GetInt64());
        }
        output.WriteLine($"consistent: {completed.Count} completed replies, {rows.Count} task rows, {runTokens.Count} runs");
    }

    public static async Task<JsonElement> GetWithRetryAsync(ClusterFixture cluster, string id)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var node = cluster.Routable[Random.Shared.Next(cluster.Routable.Length)];
            try
            {
                return await cluster.Client.GetInstanceAsync(node, id);
            }
            catch (Exception e) when (e is EngineHttpException or HttpRequestException or TaskCanceledException && clock.Elapsed < TimeSpan.FromSeconds(30))
            {
                await Task.Delay(250);
            }
        }
    }
}
