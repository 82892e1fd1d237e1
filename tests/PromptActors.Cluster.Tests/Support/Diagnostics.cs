using System.Text;
using PromptActors.Serialization;

namespace PromptActors.Cluster.Tests.Support;

/// <summary>
/// What a failed consistency check needs to be understood without reproducing it: for a message that became two tasks,
/// its task rows, its instance's journal (which incarnation wrote each event, and the request id each task was submitted
/// with) and the node log lines naming its tasks.
/// </summary>
public static class Diagnostics
{
    public static async Task<string> DescribeDuplicatesAsync(ClusterFixture cluster, IReadOnlyList<string> userMessages)
    {
        var text = new StringBuilder();
        foreach (var message in userMessages.Take(3))
        {
            var rows = await cluster.QueryAsync($"""
                SELECT t.task_id, t.status, t.created_at, t.updated_at, COALESCE(r.instance_id, r.source_id)
                FROM ai_tasks t JOIN ai_runs r ON r.id = t.run_id
                WHERE t.request_data ->> 'userMessage' = '{message.Replace("'", "''")}' ORDER BY t.created_at
                """, r => { var l = new List<(string Task, string Line, string Instance)>(); while (r.Read()) l.Add((r.GetString(0), $"{r.GetString(0)} {r.GetString(1)} created {r.GetDateTime(2):HH:mm:ss.fff} updated {r.GetDateTime(3):HH:mm:ss.fff}", r.GetString(4))); return l; });
            text.AppendLine($"--- '{message}': {rows.Count} task rows");
            foreach (var row in rows)
                text.AppendLine("  row " + row.Line);
            foreach (var instance in rows.Select(r => r.Instance).Distinct())
            {
                text.AppendLine($"  journal of {instance} (from the first of these tasks' submission on):");
                var events = await cluster.QueryAsync($"""
                    SELECT sequence_number, manifest, writer_uuid, created, message FROM journal
                    WHERE persistence_id = 'execution-instance-{instance.Replace("'", "''")}' ORDER BY sequence_number
                    """, r => { var l = new List<string>(); while (r.Read()) l.Add(Describe(r.GetInt64(0), r.GetString(1), r.GetString(2), r.GetInt64(3), (byte[])r[4])); return l; });
                var first = events.FindIndex(e => rows.Any(row => e.Contains(row.Task)));
                foreach (var e in events.Skip(Math.Max(0, first - 2)).Take(12))
                    text.AppendLine("    " + e);
            }
            foreach (var node in cluster.Nodes)
                foreach (var line in node.LogLines().Where(l => rows.Any(row => l.Contains(row.Task))).Take(10))
                    text.AppendLine($"  {node}: {line}");
        }
        return text.ToString();
    }

    private static string Describe(long sequence, string manifest, string writer, long created, byte[] message)
    {
        var at = created > DateTime.MinValue.Ticks && created < DateTime.MaxValue.Ticks ? new DateTime(created, DateTimeKind.Utc).ToString("HH:mm:ss.fff") : created.ToString();
        var head = $"#{sequence} {manifest} writer {writer[..Math.Min(8, writer.Length)]} at {at}";
        if (manifest != TurnEventCodec.SubmittedManifest)
            return head;
        var submitted = TurnEventCodec.ReadSubmitted(message);
        return $"{head} task {submitted.TaskId} request {submitted.RequestId ?? "none"}";
    }
}
