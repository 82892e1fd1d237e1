using Akka.Actor;
using Akka.Persistence;
using PromptActors.Prompts;

namespace PromptActors.Instances;

/// <summary>One journaled event of an instance, as its history shows it.</summary>
/// <param name="Kind">started, variables, message, tool_calls, tool_result, tool_decision, repair, completed, failed,
/// cancelled, synced or reaped.</param>
/// <param name="Text">The user's message or the reply (the caller's own conversation, as the view shows it).</param>
/// <param name="Variables">Values set (started: the user's; variables: the ones set): only when the instance shows variables.</param>
public sealed record HistoryEntry(long SequenceNr, DateTimeOffset? At, string Kind, string Summary, string? TaskId = null,
    string? Text = null, IReadOnlyDictionary<string, string>? Variables = null, IReadOnlyList<string>? Removed = null);

/// <summary>What the instance was as of an event: its status, conversation and figures.</summary>
public sealed record HistoryState(InstanceStatus Status, IReadOnlyList<ConversationMessage> Conversation,
    IReadOnlyDictionary<string, string>? UserValues, int TaskCount, string? LastTaskId, TaskError? LastError, long TotalTokens,
    decimal TotalCost);

/// <summary>
/// An instance's journal in order (the original design's time travel): the events up to <see cref="At"/> (all when null)
/// and the state they fold into. Snapshots are not used: the events themselves are read.
/// </summary>
public sealed record InstanceHistory(string InstanceId, long? At, long LastSequenceNr, IReadOnlyList<HistoryEntry> Events,
    HistoryState State) : IPromptActorsMessage;

/// <summary>Asks a <see cref="HistoryReader"/> for what a fork as of its last event starts from.</summary>
public sealed class ReadForkBasis : IPromptActorsMessage
{
    public static readonly ReadForkBasis Instance = new();
}

/// <summary>What a fork starts from: the source's start, user values and finished turns (a turn still running is left out).</summary>
public sealed record ForkBasis(InstanceStarted? Start, IReadOnlyDictionary<string, string> UserValues,
    IReadOnlyList<ConversationMessage> Conversation, long SequenceNr) : IPromptActorsMessage;

/// <summary>Asks a <see cref="HistoryReader"/> for what it read.</summary>
public sealed class ReadHistory : IPromptActorsMessage
{
    public static readonly ReadHistory Instance = new();
}

/// <summary>
/// Reads one instance's journal without being that instance: a persistent actor of the same persistence id that recovers
/// from the events alone (no snapshot), up to a sequence number, never writes, answers <see cref="ReadHistory"/> and
/// stops. The live instance goes on meanwhile; the reader sees what was journaled when it started.
/// </summary>
public sealed class HistoryReader : ReceivePersistentActor
{
    private readonly string _entityId;
    private readonly long? _at;
    private readonly InstanceState _state = new();
    private readonly List<HistoryEntry> _events = new();
    private long _lastApplied;

    public HistoryReader(string entityId, InstanceSettings settings, long? at)
    {
        _entityId = entityId;
        _at = at;
        if (settings.JournalPluginId is { } j)
            JournalPluginId = j;
        if (settings.SnapshotPluginId is { } s)
            SnapshotPluginId = s;
        RecoverAny(message =>
        {
            // Recovery stops at the sequence number too; this holds whatever a journal plugin replays.
            if (message is not IInstanceEvent e || (_at is { } last && LastSequenceNr > last))
                return;
            _lastApplied = LastSequenceNr;
            _state.Apply(e);
            _events.Add(Entry(LastSequenceNr, e, _state.Start?.Config.ShowVariables == true));
        });
        Command<ReadHistory>(_ =>
        {
            var show = _state.Start?.Config.ShowVariables == true;
            Sender.Tell(new InstanceHistory(_entityId, _at, _lastApplied, _events.ToArray(), new HistoryState(_state.Status,
                _state.Conversation.ToArray(), show ? new Dictionary<string, string>(_state.UserValues, StringComparer.Ordinal) : null,
                _state.TaskCount, _state.LastTask?.TaskId, _state.LastError, _state.TotalTokens, _state.TotalCost)));
            Context.Stop(Self);
        });
        Command<ReadForkBasis>(_ =>
        {
            var running = _state.Current?.TaskId;
            Sender.Tell(new ForkBasis(_state.Start, new Dictionary<string, string>(_state.UserValues, StringComparer.Ordinal),
                _state.Conversation.Where(m => running is null || m.TaskId != running).ToArray(), _lastApplied));
            Context.Stop(Self);
        });
    }

    public override string PersistenceId => ExecutionInstanceActor.PersistenceIdPrefix + _entityId;

    public override Recovery Recovery => new(SnapshotSelectionCriteria.None, _at ?? long.MaxValue);

    public static Props Props(string entityId, InstanceSettings settings, long? at) =>
        Akka.Actor.Props.Create(() => new HistoryReader(entityId, settings, at));

    protected override void OnRecoveryFailure(Exception reason, object? message = null)
    {
        // The asker times out into store_unavailable; nothing else reads or writes here.
        base.OnRecoveryFailure(reason, message);
    }

    private static HistoryEntry Entry(long seq, IInstanceEvent e, bool showVariables) => e switch
    {
        InstanceStarted s => new(seq, s.At, "started", $"started from prompt {s.PromptId} v{s.PromptVersion}",
            Variables: showVariables ? s.UserValues : null),
        InstanceForked f => new(seq, f.At, "forked",
            $"forked from instance {f.FromInstanceId} at event {f.FromSequenceNr} ({f.Conversation.Count} messages)",
            Variables: showVariables ? f.UserValues : null),
        VariablesUpdated v => new(seq, v.At, "variables",
            $"variables set: {Names(v.Set.Keys)}; removed: {Names(v.Removed)}",
            Variables: showVariables ? v.Set : null, Removed: v.Removed),
        MessageSubmitted m => new(seq, m.At, "message",
            m.UserMessage is null ? $"task {m.TaskId} started (no user message) on {m.Model}" : $"message sent, task {m.TaskId} on {m.Model}",
            m.TaskId, m.UserMessage),
        ExecutionCompleted c => new(seq, c.At, "completed",
            $"reply completed: {c.Usage.InputTokens} tokens in, {c.Usage.OutputTokens} out", c.TaskId, c.Text),
        ExecutionFailed f => new(seq, f.At, "failed", $"task failed: {f.Code}", f.TaskId, f.PartialText),
        ExecutionCancelled x => new(seq, x.At, "cancelled", "task cancelled", x.TaskId, x.PartialText),
        ToolCallsRequested r => new(seq, r.At, "tool_calls",
            $"model call {r.Iteration} asked for {Names(r.Calls.Select(c => $"{c.Name} ({c.CallId}, {Status(c.Status)})"))}", r.TaskId, r.Text),
        ToolCallFinished f => new(seq, f.At, "tool_result", $"tool call {f.CallId} {Status(f.Status)}", f.TaskId, f.Result),
        ToolCallDecided d => new(seq, d.At, "tool_decision", $"tool call {d.CallId} {(d.Approved ? "approved" : "rejected")}", d.TaskId,
            d.Reason),
        OutputRepairRequested r => new(seq, r.At, "repair",
            $"the reply of model call {r.Iteration} is not the JSON asked for; the model is asked to repair it", r.TaskId, r.Text),
        TaskSynced t => new(seq, null, "synced", "run row confirmed", t.TaskId),
        InstanceReaped r => new(seq, r.At, "reaped", "instance reaped"),
        _ => new(seq, null, "other", e.GetType().Name),
    };

    private static string Status(ToolCallStatus status) => System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(status.ToString());

    private static string Names(IEnumerable<string> names) => names.Any() ? string.Join(", ", names) : "none";
}
