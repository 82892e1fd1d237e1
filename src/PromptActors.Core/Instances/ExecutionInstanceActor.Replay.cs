using PromptActors.Streaming;
using PromptActors.Tools;

namespace PromptActors.Instances;

/// <summary>The running turn's stream events after a restart: what its earlier steps streamed, at the indices they had.</summary>
public sealed partial class ExecutionInstanceActor
{
    /// <summary>
    /// The stream events of the running turn's steps, rebuilt from the state after a restart, at the indices the state gave
    /// them in journal order (the ones the live stream used): each earlier model call's text as one chunk at its first
    /// index (the indices of its other chunks stay used), per call its request, its approval and its result, and a repaired reply with its <c>repair</c> event.
    /// </summary>
    private void RebuildTurnEvents()
    {
        if (_state.Current is not { } turn)
            return;
        var events = new List<ReplyEvent>();
        foreach (var step in turn.StepsSoFar)
        {
            if (step is ModelCallStep { Repair: { } repair })
            {
                // The invalid reply's chunks, then the repair event.
                if (repair.InvalidText.Length > 0)
                    events.Add(new ReplyChunk(turn.TaskId, repair.Index - repair.ChunkCount, repair.InvalidText));
                events.Add(new ReplyRepair(turn.TaskId, repair.Index, repair.Errors));
                continue;
            }
            if (step is not ToolCallsStep { Calls.Count: > 0 } tools)
                continue;
            var text = _state.Conversation.Find(m => m.TaskId == turn.TaskId && m.ToolCalls is { Count: > 0 } calls
                && calls[0].CallId == tools.Calls[0].CallId)?.Content ?? "";
            if (text.Length > 0)
                events.Add(new ReplyChunk(turn.TaskId, tools.FirstChunkIndex, text));
            foreach (var c in tools.Calls)
            {
                events.Add(new ReplyToolCall(turn.TaskId, c.RequestIndex, c.CallId, c.Name, c.Arguments,
                    c.RequestedStatus ?? (c.Approved is not null ? ToolCallStatus.AwaitingApproval : ToolCallStatus.Running)));
                if (c.ApprovalIndex is { } approved)
                    events.Add(new ReplyToolCall(turn.TaskId, approved, c.CallId, c.Name, c.Arguments, ToolCallStatus.Running));
                if (c.ResultIndex is { } result)
                    events.Add(new ReplyToolResult(turn.TaskId, result, c.CallId, c.Name, c.Status, ToolResults.Preview(c.Result ?? "")));
            }
        }
        events.Sort((a, b) => IndexOf(a).CompareTo(IndexOf(b)));
        _turnEvents = events.Count > 0 ? events : null;
    }

    /// <summary>The stream index an event has (chunks, tool calls and results count together).</summary>
    private static long IndexOf(ReplyEvent e) => e switch
    {
        ReplyChunk c => c.Index,
        ReplyToolCall t => t.Index,
        ReplyToolResult r => r.Index,
        ReplyRepair r => r.Index,
        _ => long.MaxValue,
    };
}
