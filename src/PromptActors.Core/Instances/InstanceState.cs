using PromptActors.Models;
using PromptActors.Prompts;
using PromptActors.Runs;
using PromptActors.Tools;
using PromptActors.Variables;

namespace PromptActors.Instances;

/// <summary>
/// The task being executed: one turn, as the durable steps it has gone through (<see cref="TurnStep"/>), the last one
/// active. <see cref="Steps"/> is null in snapshots written before turns had steps: such a turn is one model call.
/// </summary>
public sealed record CurrentTask(string TaskId, string? UserMessage, string Model, string Provider, DateTimeOffset SubmittedAt, int Sequence = 0,
    IReadOnlyList<TurnStep>? Steps = null, string? KeyId = null, PromptSettings? Settings = null,
    TokenUsage? UsageSoFar = null, decimal? CostSoFar = null, double? FirstTokenMs = null,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)]
    int StreamIndex = 0,
    IReadOnlyList<Attachments.MessagePart>? Parts = null)
{
    /// <summary>All tool calls of the turn so far, latest step first.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public IEnumerable<ToolCallEntry> AllCalls => StepsSoFar.OfType<ToolCallsStep>().Reverse().SelectMany(s => s.Calls);

    /// <summary>A tool call of this turn, in any of its steps.</summary>
    public ToolCallEntry? FindCall(string callId) => AllCalls.FirstOrDefault(c => c.CallId == callId);

    /// <summary>Usage of the turn's model calls that ended asking for tools (the turn's outcome adds its last call's).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public TokenUsage EarlierUsage => UsageSoFar ?? TokenUsage.None;

    /// <summary>The tool calls of the active step, when it is one.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public ToolCallsStep? ToolStep => ActiveStep as ToolCallsStep;

    /// <summary>Which model call of the turn is running or next (0 for the first).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public int Iteration => ActiveStep switch
    {
        ModelCallStep m => m.Iteration,
        ToolCallsStep t => t.Iteration,
        _ => 0,
    };

    /// <summary>The turn's steps so far, oldest first (never empty).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public IReadOnlyList<TurnStep> StepsSoFar => Steps is { Count: > 0 } steps ? steps : [new ModelCallStep(Model, Provider, SubmittedAt)];

    /// <summary>Model calls the turn made (or makes) to repair a reply that was not the JSON asked for.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public int Repairs => StepsSoFar.Count(s => s is ModelCallStep { Repair: not null });

    /// <summary>The step the turn is in now.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public TurnStep ActiveStep => StepsSoFar[^1];
}

/// <summary>A recent <see cref="ExecuteMessage.RequestId"/> and the task it created (repeats are answered with that task).</summary>
public sealed record RecentRequest(string RequestId, string TaskId, DateTimeOffset At = default);

/// <summary>The last finished task, kept so a late subscriber can replay it.</summary>
public sealed record FinishedTask(string TaskId, TaskOutcome Outcome, string Text, string? ErrorCode, string? ErrorDetail, ExecutionStats Stats);

/// <summary>Snapshot of an instance (every N events).</summary>
public sealed record InstanceSnapshot(
    InstanceStarted? Start,
    IReadOnlyDictionary<string, string> UserValues,
    IReadOnlyList<ConversationMessage> Conversation,
    InstanceStatus Status,
    CurrentTask? Current,
    FinishedTask? LastTask,
    ExecutionStats? LastStats,
    TaskError? LastError,
    string? RunId,
    DateTimeOffset? RunCreatedAt,
    long TotalTokens,
    decimal TotalCost,
    int TaskCount,
    DateTimeOffset? CompletedAt,
    DateTimeOffset UpdatedAt,
    IReadOnlyList<RunTaskRecord> Unsynced,
    bool Expired,
    IReadOnlyList<RecentRequest>? RecentRequests = null) : IPromptActorsMessage;

/// <summary>
/// The state of one instance, changed only by applying events (so recovery and live handling agree).
/// Business rules about what may happen live in the actor's command handlers; this class only folds events.
/// </summary>
public sealed partial class InstanceState
{
    public InstanceStarted? Start { get; private set; }
    public Dictionary<string, string> UserValues { get; private set; } = new(StringComparer.Ordinal);
    public List<ConversationMessage> Conversation { get; private set; } = new();
    public InstanceStatus Status { get; private set; } = InstanceStatus.Idle;
    public CurrentTask? Current { get; private set; }
    public FinishedTask? LastTask { get; private set; }
    public ExecutionStats? LastStats { get; private set; }
    public TaskError? LastError { get; private set; }
    public string? RunId { get; private set; }
    public DateTimeOffset? RunCreatedAt { get; private set; }
    public long TotalTokens { get; private set; }
    public decimal TotalCost { get; private set; }
    public int TaskCount { get; private set; }
    public DateTimeOffset? CompletedAt { get; private set; }
    public DateTimeOffset UpdatedAt { get; private set; }
    public Dictionary<string, RunTaskRecord> Unsynced { get; private set; } = new(StringComparer.Ordinal);
    public bool Expired { get; private set; }

    /// <summary>
    /// The request ids that created tasks, oldest first: every one of the last <see cref="RequestMemory"/> (by the
    /// submissions' own times, so recovery rebuilds the same list), and at least the last <see cref="RecentRequestsKept"/>,
    /// at most <see cref="MaxRecentRequests"/>. A copy of a request arrives at most its ask's timeout plus
    /// <see cref="InstanceDecider.StaleCopyGrace"/> after the request (later copies are dropped), well within the memory.
    /// </summary>
    public List<RecentRequest> RecentRequests { get; private set; } = new();

    public const int RecentRequestsKept = 32;
    public const int MaxRecentRequests = 2048;
    public static readonly TimeSpan RequestMemory = TimeSpan.FromMinutes(5);

    public bool Started => Start is not null;
    public bool IsExecuting => Current is not null;
    /// <summary>
    /// Whether <paramref name="taskId"/> is a task of this instance: the running or last one, one whose turn is in the
    /// conversation, or one of the last <see cref="RecentRequestsKept"/> submitted.
    /// </summary>
    public bool KnowsTask(string taskId) =>
        Current?.TaskId == taskId || LastTask?.TaskId == taskId
        || RecentRequests.Exists(r => r.TaskId == taskId) || Conversation.Exists(m => m.TaskId == taskId);

    /// <summary>The run store holds every row of this instance's run as the state shows it (nothing running, nothing owed).</summary>
    public bool RunRowsWritten => !Config.TrackInRuns || RunId is null || (Current is null && Unsynced.Count == 0);

    public bool HasCompletedTurn => Conversation.Exists(m => m.Role == MessageRole.Assistant);
    public ExecutionConfig Config => Start?.Config ?? ExecutionConfig.Default;

    public void Apply(IInstanceEvent e)
    {
        switch (e)
        {
            case InstanceForked f:
                Start = f.Start;
                UserValues = new Dictionary<string, string>(f.UserValues, StringComparer.Ordinal);
                Conversation = f.Conversation.ToList();
                Status = HasCompletedTurn ? InstanceStatus.Completed : InstanceStatus.Ready;
                CompletedAt = HasCompletedTurn ? f.At : null;
                UpdatedAt = f.At;
                break;
            case InstanceStarted s:
                Start = s;
                UserValues = new Dictionary<string, string>(s.UserValues, StringComparer.Ordinal);
                Status = InstanceStatus.Ready;
                UpdatedAt = s.At;
                break;
            case VariablesUpdated v:
                foreach (var name in v.Removed)
                    UserValues.Remove(name);
                foreach (var (k, val) in v.Set)
                    UserValues[k] = val;
                UpdatedAt = v.At;
                break;
            case MessageSubmitted m:
                if (m.Synced is { } synced)
                {
                    foreach (var id in synced)
                        Unsynced.Remove(id);
                }
                if (m.NewRunId is not null)
                {
                    RunId = m.NewRunId;
                    RunCreatedAt = m.At;
                }
                TaskCount++;
                Current = new CurrentTask(m.TaskId, m.UserMessage, m.Model, m.Provider, m.At, TaskCount,
                    [new ModelCallStep(m.Model, m.Provider, m.At)], m.KeyId, m.Settings, Parts: m.Parts is { Count: > 0 } ? m.Parts : null);
                if (m.UserMessage is not null)
                    Conversation.Add(new ConversationMessage(MessageRole.User, m.UserMessage, m.TaskId, m.At,
                        Parts: m.Parts is { Count: > 0 } ? m.Parts : null));
                Status = InstanceStatus.Executing;
                CompletedAt = null;
                UpdatedAt = m.At;
                if (m.RequestId is not null)
                {
                    RecentRequests.Add(new RecentRequest(m.RequestId, m.TaskId, m.At));
                    var forgetBefore = m.At - RequestMemory;
                    var forget = 0;
                    while (RecentRequests.Count - forget > RecentRequestsKept
                           && (RecentRequests.Count - forget > MaxRecentRequests || RecentRequests[forget].At < forgetBefore))
                        forget++;
                    if (forget > 0)
                        RecentRequests.RemoveRange(0, forget);
                }
                break;
            case ExecutionCompleted c:
                Conversation.Add(new ConversationMessage(MessageRole.Assistant, c.Text, c.TaskId, c.At));
                Finish(c.TaskId, TaskOutcome.Completed, c.Text, null, null, c.Usage, c.Cost, c.TimeToFirstTokenMs, c.TotalTimeMs, c.At,
                    c.CallTimeToFirstTokenMs);
                Status = InstanceStatus.Completed;
                CompletedAt = c.At;
                LastError = null;
                break;
            case ExecutionFailed f:
                DropTurn(f.TaskId);
                Finish(f.TaskId, TaskOutcome.Failed, f.PartialText, f.Code, f.Detail, f.Usage, f.Cost, f.TimeToFirstTokenMs, f.TotalTimeMs, f.At,
                    f.CallTimeToFirstTokenMs);
                // An interrupted task (found unfinished on recovery) leaves the instance usable; a provider error shows as error.
                Status = f.Code == ErrorCodes.Interrupted ? InstanceStatus.Ready : InstanceStatus.Error;
                LastError = new TaskError(f.TaskId, f.Code, f.Detail);
                break;
            case ExecutionCancelled x:
                DropTurn(x.TaskId);
                Finish(x.TaskId, TaskOutcome.Cancelled, x.PartialText, ErrorCodes.Cancelled, "cancelled by request", x.Usage, x.Cost,
                    x.TimeToFirstTokenMs, x.TotalTimeMs, x.At, x.CallTimeToFirstTokenMs);
                Status = InstanceStatus.Ready;
                LastError = new TaskError(x.TaskId, ErrorCodes.Cancelled, "cancelled by request");
                break;
            case ToolCallsRequested r when Current?.TaskId == r.TaskId:
                ApplyRequested(r);
                break;
            case OutputRepairRequested r when Current?.TaskId == r.TaskId:
                ApplyRepair(r);
                break;
            case ToolCallFinished f when Current?.TaskId == f.TaskId:
                ApplyToolResult(f.CallId, f.Status, f.Result, f.At, f.DurationMs, null, null);
                break;
            case ToolCallDecided d when Current?.TaskId == d.TaskId:
                if (d.Approved && Current.ToolStep?.Find(d.CallId) is { Status: ToolCallStatus.AwaitingApproval })
                {
                    var index = NextStreamIndex();
                    UpdateCall(d.CallId, c => c with
                    {
                        Status = ToolCallStatus.Running, StartedAt = d.At, DecidedBy = d.DecidedBy, Reason = d.Reason, Approved = true,
                        ApprovalIndex = index,
                    }, d.At);
                }
                else if (!d.Approved)
                    ApplyToolResult(d.CallId, ToolCallStatus.Rejected, ToolResults.Rejection(d.Reason), d.At, 0, d.DecidedBy, d.Reason);
                break;
            case TaskSynced t:
                Unsynced.Remove(t.TaskId);
                break;
            case InstanceReaped r:
                Expired = true;
                Status = InstanceStatus.Expired;
                UpdatedAt = r.At;
                break;
        }
    }

    private void ApplyRequested(ToolCallsRequested r)
    {
        var turn = Current!;
        // Stream indices in journal order: the call's chunks, then a tool_call per call, then the results of refused calls.
        var index = turn.StreamIndex + r.ChunkCount;
        var calls = new ToolCallEntry[r.Calls.Count];
        for (var i = 0; i < calls.Length; i++)
        {
            var c = r.Calls[i];
            var failed = c.Status == ToolCallStatus.Failed;
            calls[i] = new ToolCallEntry(c.CallId, c.Name, c.Arguments, c.Status, c.Policy,
                c.Status == ToolCallStatus.Running ? r.At : null, c.Result, failed ? r.At : null, failed ? 0 : null,
                RequestIndex: index++, RequestedStatus: c.Status);
        }
        for (var i = 0; i < calls.Length; i++)
        {
            if (calls[i].Status == ToolCallStatus.Failed)
                calls[i] = calls[i] with { ResultIndex = index++ };
        }
        var earlier = turn.EarlierUsage;
        var steps = turn.StepsSoFar.ToList();
        if (steps[^1] is ModelCallStep call)
            steps[^1] = call with
            {
                Ended = new ModelCallFigures(r.Usage, r.Cost, r.TimeToFirstTokenMs, r.TotalTimeMs, r.At, r.Text.Length == 0 ? null : r.Text),
            };
        steps.Add(new ToolCallsStep(r.Iteration, calls, r.At, r.ChunkCount));
        Current = turn with
        {
            Steps = steps,
            UsageSoFar = earlier.Plus(r.Usage),
            CostSoFar = (turn.CostSoFar ?? 0m) + r.Cost,
            FirstTokenMs = turn.FirstTokenMs ?? r.TimeToFirstTokenMs,
            StreamIndex = index,
        };
        Conversation.Add(new ConversationMessage(MessageRole.Assistant, r.Text, r.TaskId, r.At,
            r.Calls.Select(c => new ToolCall(c.CallId, c.Name, c.Arguments)).ToArray()));
        foreach (var c in calls)
        {
            if (c.Finished)
                Conversation.Add(new ConversationMessage(MessageRole.Tool, c.Result ?? "", r.TaskId, r.At, ToolCallId: c.CallId, ToolName: c.Name));
        }
        UpdatedAt = r.At;
        AfterToolChange(r.At);
    }

    /// <summary>Takes the turn's next stream index.</summary>
    private int NextStreamIndex()
    {
        var index = Current!.StreamIndex;
        Current = Current with { StreamIndex = index + 1 };
        return index;
    }

    private void ApplyToolResult(string callId, ToolCallStatus status, string result, DateTimeOffset at, double durationMs,
        string? decidedBy, string? reason)
    {
        if (Current?.ToolStep?.Find(callId) is not { Finished: false } call)
            return;
        var index = NextStreamIndex();
        UpdateCall(callId, c => c with
        {
            Status = status, Result = result, FinishedAt = at, DurationMs = durationMs,
            DecidedBy = decidedBy ?? c.DecidedBy, Reason = reason ?? c.Reason,
            Approved = status == ToolCallStatus.Rejected ? false : c.Approved,
            ResultIndex = index,
        }, at);
        Conversation.Add(new ConversationMessage(MessageRole.Tool, result, Current!.TaskId, at, ToolCallId: callId, ToolName: call.Name));
    }

    private void UpdateCall(string callId, Func<ToolCallEntry, ToolCallEntry> change, DateTimeOffset at)
    {
        if (Current is not { ToolStep: { } step } turn)
            return;
        var calls = step.Calls.Select(c => c.CallId == callId ? change(c) : c).ToArray();
        var steps = turn.StepsSoFar.ToList();
        steps[^1] = step with { Calls = calls };
        Current = turn with { Steps = steps };
        UpdatedAt = at;
        AfterToolChange(at);
    }

    /// <summary>Once every call of the step has its result the next model call opens; until then the turn may wait for a person.</summary>
    private void AfterToolChange(DateTimeOffset at)
    {
        var turn = Current!;
        var step = turn.ToolStep!;
        if (step.AllFinished)
        {
            Current = turn with { Steps = [.. turn.StepsSoFar, new ModelCallStep(turn.Model, turn.Provider, at, step.Iteration + 1)] };
            Status = InstanceStatus.Executing;
        }
        else if (step.Calls.Any(c => c.Status == ToolCallStatus.Running))
            Status = InstanceStatus.Executing;
        else
            Status = step.Calls.Any(c => c.Status == ToolCallStatus.AwaitingApproval)
                ? InstanceStatus.AwaitingApproval
                : InstanceStatus.AwaitingToolResults;
    }

    /// <summary>Marks the in-memory status as streaming (first token seen); not an event, chunks are not persisted.</summary>
    public void MarkStreaming()
    {
        if (Status == InstanceStatus.Executing)
            Status = InstanceStatus.Streaming;
    }

    // A turn that did not complete leaves no trace in the conversation: the caller may send it again.
    private void DropTurn(string taskId) => Conversation.RemoveAll(m => m.TaskId == taskId);

    private void Finish(string taskId, TaskOutcome outcome, string text, string? code, string? detail, TokenUsage usage,
        decimal cost, double? ttft, double total, DateTimeOffset at, double? callTtft)
    {
        var stats = ExecutionStats.From(usage, cost, ttft, total);
        var current = Current;
        Current = null;
        LastTask = new FinishedTask(taskId, outcome, text, code, detail, stats);
        LastStats = stats;
        TotalTokens += usage.TotalTokens;
        TotalCost += cost;
        UpdatedAt = at;
        if (Start is { Config.TrackInRuns: true } start && RunId is not null && current is not null && current.TaskId == taskId)
        {
            var status = outcome switch
            {
                TaskOutcome.Completed => RunTaskStatus.Completed,
                TaskOutcome.Cancelled => RunTaskStatus.Cancelled,
                _ => RunTaskStatus.Failed,
            };
            Unsynced[taskId] = new RunTaskRecord(RunInfo(start), taskId, current.Provider, current.Model, current.UserMessage,
                status, text, code, detail, usage.InputTokens, usage.OutputTokens, usage.TotalTokens, cost, ttft, total,
                current.SubmittedAt, at, at, current.Sequence, current.KeyId, current.Settings, ToolLedger(current),
                ModelCallRows(current, status, usage, cost, callTtft, at), current.Parts);
        }
    }

    /// <summary>Characters of conversation text the instance holds (what a snapshot's size grows with).</summary>
    public long ConversationChars()
    {
        long chars = 0;
        foreach (var m in Conversation)
            chars += m.Content.Length;
        return chars;
    }

    /// <summary>The run row this instance writes to (requires a run id).</summary>
    public RunInfo RunInfo(InstanceStarted start) => new(
        RunId!, start.Scope.UserId, start.Scope.OrgId, start.Scope.ProjectId, start.Source.Type, start.Source.Id,
        start.RunName, start.PromptId, start.PromptVersion, start.Settings,
        new Dictionary<string, string>(UserValues, StringComparer.Ordinal), RunCreatedAt ?? start.At, start.InstanceId);

    public InstanceSnapshot ToSnapshot() => new(
        Start, new Dictionary<string, string>(UserValues, StringComparer.Ordinal), Conversation.ToArray(), Status, Current,
        LastTask, LastStats, LastError, RunId, RunCreatedAt, TotalTokens, TotalCost, TaskCount, CompletedAt, UpdatedAt,
        Unsynced.Values.ToArray(), Expired, RecentRequests.Count == 0 ? null : RecentRequests.ToArray());

    public static InstanceState FromSnapshot(InstanceSnapshot s) => new()
    {
        Start = s.Start,
        UserValues = new Dictionary<string, string>(s.UserValues, StringComparer.Ordinal),
        Conversation = s.Conversation.ToList(),
        Status = s.Status,
        Current = s.Current,
        LastTask = s.LastTask,
        LastStats = s.LastStats,
        LastError = s.LastError,
        RunId = s.RunId,
        RunCreatedAt = s.RunCreatedAt,
        TotalTokens = s.TotalTokens,
        TotalCost = s.TotalCost,
        TaskCount = s.TaskCount,
        CompletedAt = s.CompletedAt,
        UpdatedAt = s.UpdatedAt,
        Unsynced = s.Unsynced.ToDictionary(t => t.TaskId, StringComparer.Ordinal),
        Expired = s.Expired,
        RecentRequests = s.RecentRequests?.ToList() ?? new List<RecentRequest>(),
    };
}
