namespace PromptActors.Instances;

/// <summary>What the instance does with a command, decided from its state alone (see <see cref="InstanceDecider"/>).</summary>
public abstract record Decision
{
    /// <summary>Refused with <paramref name="Rejected"/>; nothing changes. With <paramref name="Passivate"/> the entity leaves memory (it has no instance to keep).</summary>
    public sealed record Refuse(Rejected Rejected, bool Passivate = false) : Decision;

    /// <summary>Answered from the state with <paramref name="Reply"/> (a repeated request, nothing to cancel…); nothing changes.</summary>
    public sealed record Answer(object Reply, bool Passivate = false) : Decision;

    /// <summary>Given back to the shard, which hands it to the next incarnation (this one is about to stop).</summary>
    public sealed record HandBack : Decision;

    /// <summary>Journal <paramref name="Events"/>, then run the command's effects (replies, the outbox, the reaper).</summary>
    public sealed record Persist(IReadOnlyList<IInstanceEvent> Events) : Decision;

    /// <summary>
    /// Allowed: the command goes on to what needs more than the state — the turn context (the prompt and scoped variables
    /// a start, a message or a view runs with) or an effect (a subscription, a cancellation, a row sent again).
    /// </summary>
    public sealed record Proceed : Decision;

    /// <summary>Clean-up waits, bounded, for the outbox to write the rows the run store still lacks.</summary>
    public sealed record WaitForOutbox : Decision;

    /// <summary>Nothing to do and no answer (a reap of an instance that moved on, a check of the task running here).</summary>
    public sealed record Ignore(bool Passivate = false) : Decision;

    /// <summary>Leave memory but keep the journal (a retained or chat instance over the node's limit).</summary>
    public sealed record LeaveMemory : Decision;
}

/// <summary>What a decision may depend on besides the state: the instance's phase, its limits, the clock's reading.</summary>
public sealed record DecisionInputs(
    string InstanceId,
    InstancePhase Phase,
    InstanceSettings Settings,
    DateTimeOffset Now,
    DateTimeOffset? ReapReference = null);

/// <summary>
/// <c>Decide(command, state) → events | refusal</c>: every rule about what a command may do in each state and phase, in
/// one pure function (no actor, no clock, no I/O), tested table by table. The actor persists what is decided and runs the
/// effects; the checks that need the loaded prompt and variables (a start's or message's model and missing variables)
/// follow in the verb files once the decision is <see cref="Decision.Proceed"/>.
/// </summary>
public static class InstanceDecider
{
    /// <summary>
    /// How long after its <see cref="ExecuteMessage.Deadline"/> a copy of a message is still taken (allowing for clocks of
    /// nodes that differ a little); a later one is dropped unless its request is remembered.
    /// </summary>
    public static readonly TimeSpan StaleCopyGrace = TimeSpan.FromSeconds(30);

    public static Decision Decide(IInstanceCommand command, InstanceState state, DecisionInputs inputs)
    {
        var id = inputs.InstanceId;
        switch (command)
        {
            case StartInstance start:
                return DecideStart(start, state, inputs);
            case ForkInstance fork:
                return DecideFork(fork, state, inputs);
            case ReapInstance reap:
                return DecideReap(reap, state, inputs);
            case CheckTask check:
                return DecideCheck(check, state, inputs);
        }

        if (IsForeign(command, state))
            return new Decision.Refuse(NotFound(id)); // word for word an unknown id's answer; the instance stays
        if (inputs.Phase == InstancePhase.Passivating && state.Started && !state.Expired
            && command is ExecuteMessage or UpdateVariables or CleanupInstance or SubscribeReplyStream or DecideToolCall or SubmitToolResults)
            return new Decision.HandBack();
        if (state.Expired)
            return new Decision.Refuse(Expired(id), Passivate: inputs.Phase != InstancePhase.Reaping);
        if (!state.Started)
            return new Decision.Refuse(NotFound(id), Passivate: true);

        return command switch
        {
            ExecuteMessage execute => DecideExecute(execute, state, inputs),
            UpdateVariables update => DecideVariables(update, state, inputs),
            CleanupInstance => state.IsExecuting
                ? new Decision.Refuse(new Rejected(ErrorCodes.InstanceBusy, "cancel the running task before cleaning up the instance"))
                : state.Unsynced.Count > 0
                    ? new Decision.WaitForOutbox()
                    : new Decision.Persist([new InstanceReaped(inputs.Now)]),
            CancelExecution => state.IsExecuting
                ? new Decision.Proceed()
                : new Decision.Answer(new CancelResult(id, null, false)),
            SubscribeReplyStream subscribe => DecideSubscribe(subscribe, state, id),
            DecideToolCall decide => DecideTool(decide, state, inputs),
            SubmitToolResults results => DecideResults(results, state, inputs),
            AwaitRunRows => state.Unsynced.Count == 0 ? new Decision.Answer(new RunRowsWritten(id, true)) : new Decision.WaitForOutbox(),
            _ => new Decision.Proceed(), // GetInstance
        };
    }

    /// <summary>The command names a caller whose scope (user, org and project) is not this instance's.</summary>
    public static bool IsForeign(IInstanceCommand command, InstanceState state) =>
        command.Caller is { } caller && state.Start is { } start && start.Scope != caller;

    public static Rejected NotFound(string instanceId) => new(ErrorCodes.InstanceNotFound, $"instance '{instanceId}' does not exist");

    private static Rejected Expired(string instanceId) =>
        new(ErrorCodes.InstanceExpired, $"instance '{instanceId}' has expired and was cleaned up");

    private static Decision DecideStart(StartInstance cmd, InstanceState state, DecisionInputs inputs)
    {
        if (NewInstance(cmd, cmd.Scope, state, inputs.InstanceId) is { } refused)
            return refused;
        var errors = InstanceInput.CheckStart(cmd, inputs.Settings);
        return errors.Count > 0
            ? new Decision.Refuse(new Rejected(ErrorCodes.ValidationFailed, string.Join("; ", errors)), Passivate: true)
            : new Decision.Proceed();
    }

    /// <summary>A fork starts a new instance: the rules of a start, for the fork's own id.</summary>
    private static Decision DecideFork(ForkInstance cmd, InstanceState state, DecisionInputs inputs) =>
        (Decision?)NewInstance(cmd, cmd.Scope, state, inputs.InstanceId) ?? new Decision.Proceed();

    /// <summary>What refuses a command that creates this instance (a start or a fork), or null when it may.</summary>
    private static Decision.Refuse? NewInstance(IInstanceCommand cmd, Variables.InstanceScope scope, InstanceState state, string id)
    {
        if (cmd.Caller is { } caller && caller != scope)
            return new Decision.Refuse(new Rejected(ErrorCodes.Forbidden, "a caller may only start instances in its own scope"),
                Passivate: !state.Started);
        // Taken by another scope (live or cleaned up): the same answer as an id of one's own that exists.
        if (IsForeign(cmd, state))
            return new Decision.Refuse(new Rejected(ErrorCodes.InstanceExists, $"instance '{id}' already exists"));
        if (state.Expired)
            return new Decision.Refuse(Expired(id));
        return state.Started ? new Decision.Refuse(new Rejected(ErrorCodes.InstanceExists, $"instance '{id}' already exists")) : null;
    }

    private static Decision DecideExecute(ExecuteMessage cmd, InstanceState state, DecisionInputs inputs)
    {
        var id = inputs.InstanceId;
        // A retry of a request this instance already accepted: the same task, not a second one.
        if (cmd.RequestId is { } requestId && state.RecentRequests.Find(r => r.RequestId == requestId) is { } repeat)
            return new Decision.Answer(new MessageAccepted(id, repeat.TaskId, state.RunId));
        // A copy its caller stopped waiting for long ago (delivered late, e.g. by a node restarted at the same address): its
        // request may have made a task that this instance no longer remembers, so it must not make another.
        if (cmd.Deadline is { } deadline && inputs.Now > deadline + StaleCopyGrace)
            return new Decision.Ignore();
        if (state.IsExecuting)
            return new Decision.Refuse(new Rejected(ErrorCodes.InstanceBusy, $"instance '{id}' is executing task '{state.Current!.TaskId}'"));
        if (inputs.Phase == InstancePhase.HandingOff)
            return new Decision.Refuse(new Rejected(ErrorCodes.InstanceBusy, $"instance '{id}' is moving to another node; send the message again"));
        if (state.HasCompletedTurn && !state.Config.AllowChat)
            return new Decision.Refuse(new Rejected(ErrorCodes.ChatNotAllowed,
                "this instance does not allow follow-up messages (allowChat is off)"));
        if (InstanceInput.CheckUserInput(cmd.UserInput, required: state.HasCompletedTurn, inputs.Settings,
                hasParts: cmd.Parts is { Count: > 0 }) is { } inputError)
            return new Decision.Refuse(new Rejected(ErrorCodes.ValidationFailed, inputError));
        return new Decision.Proceed();
    }

    private static Decision DecideVariables(UpdateVariables cmd, InstanceState state, DecisionInputs inputs)
    {
        var set = cmd.Set ?? new Dictionary<string, string>();
        var removed = cmd.Remove ?? Array.Empty<string>();
        var errors = InstanceInput.CheckVariables(set, removed, inputs.Settings);
        var resulting = state.UserValues.Keys.Except(removed).Union(set.Keys).Count();
        if (resulting > inputs.Settings.MaxVariables)
            errors.Add($"at most {inputs.Settings.MaxVariables} variables may be set");
        return errors.Count > 0
            ? new Decision.Refuse(new Rejected(ErrorCodes.ValidationFailed, string.Join("; ", errors)))
            : new Decision.Persist([new VariablesUpdated(new Dictionary<string, string>(set, StringComparer.Ordinal), removed.ToArray(), inputs.Now)]);
    }

    /// <summary>Longest reason a decision may give.</summary>
    public const int MaxDecisionReason = 1000;

    private static Decision DecideTool(DecideToolCall cmd, InstanceState state, DecisionInputs inputs)
    {
        if (string.IsNullOrEmpty(cmd.CallId) || cmd.CallId.Length > 256)
            return new Decision.Refuse(new Rejected(ErrorCodes.ValidationFailed, "callId must be 1-256 characters"));
        if (cmd.Reason is { Length: > MaxDecisionReason })
            return new Decision.Refuse(new Rejected(ErrorCodes.ValidationFailed, $"reason must be at most {MaxDecisionReason} characters"));
        if (state.Current is { ToolStep: { } step } turn && step.Find(cmd.CallId) is { } call)
        {
            if (call.Status == ToolCallStatus.AwaitingApproval)
                return new Decision.Persist([new ToolCallDecided(turn.TaskId, cmd.CallId, cmd.Approve, cmd.Reason, cmd.KeyId, inputs.Now)]);
            return new Decision.Refuse(new Rejected(ErrorCodes.AlreadyDecided, call.DecidedBy is not null || call.Status == ToolCallStatus.Rejected
                ? $"tool call '{cmd.CallId}' was decided already"
                : $"tool call '{cmd.CallId}' is not waiting for a decision ({Status(call.Status)})"));
        }
        // A call of an earlier step or turn: it was decided (or needed no decision) and has its result.
        if (state.Conversation.Exists(m => m.Role == Prompts.MessageRole.Tool && m.ToolCallId == cmd.CallId))
            return new Decision.Refuse(new Rejected(ErrorCodes.AlreadyDecided, $"tool call '{cmd.CallId}' has its result already"));
        return new Decision.Refuse(new Rejected(ErrorCodes.ToolCallNotFound,
            $"instance '{inputs.InstanceId}' has no tool call '{cmd.CallId}' waiting for a decision"));
    }

    /// <summary>Most results one post may carry, and the longest result.</summary>
    public const int MaxResultsPerPost = 64;

    private static Decision DecideResults(SubmitToolResults cmd, InstanceState state, DecisionInputs inputs)
    {
        if (cmd.Results is not { Count: > 0 and <= MaxResultsPerPost } results)
            return new Decision.Refuse(new Rejected(ErrorCodes.ValidationFailed, $"post 1 to {MaxResultsPerPost} results"));
        if (results.Select(r => r.CallId).Distinct(StringComparer.Ordinal).Count() != results.Count)
            return new Decision.Refuse(new Rejected(ErrorCodes.ValidationFailed, "a callId is given twice"));
        foreach (var r in results)
        {
            if (string.IsNullOrEmpty(r.CallId) || r.CallId.Length > 256 || r.Result is null)
                return new Decision.Refuse(new Rejected(ErrorCodes.ValidationFailed, "every result needs a callId (1-256 characters) and a result"));
            if (System.Text.Encoding.UTF8.GetByteCount(r.Result) > inputs.Settings.MaxInputBytes)
                return new Decision.Refuse(new Rejected(ErrorCodes.ValidationFailed,
                    $"the result of '{r.CallId}' is longer than {inputs.Settings.MaxInputBytes} bytes"));
        }
        if (state.Current is not { ToolStep: { } step } turn)
            return new Decision.Refuse(new Rejected(ErrorCodes.ToolCallNotAwaiting,
                $"instance '{inputs.InstanceId}' waits for no tool results"));
        foreach (var r in results)
        {
            if (step.Find(r.CallId) is not { Status: ToolCallStatus.AwaitingClient })
                return new Decision.Refuse(new Rejected(ErrorCodes.ToolCallNotAwaiting,
                    $"tool call '{r.CallId}' does not wait for a result from the caller"));
        }
        var cut = inputs.Settings.MaxToolResultChars;
        return new Decision.Persist(results.Select(r => (IInstanceEvent)new ToolCallFinished(turn.TaskId, r.CallId, ToolCallStatus.Completed,
            Tools.ToolResults.Cut(r.Result, cut), (inputs.Now - step.StartedAt).TotalMilliseconds, inputs.Now)).ToArray());
    }

    private static string Status(ToolCallStatus status) => status switch
    {
        ToolCallStatus.Running => "running",
        ToolCallStatus.AwaitingClient => "awaiting_client",
        ToolCallStatus.Completed => "completed",
        ToolCallStatus.Failed => "failed",
        ToolCallStatus.OutcomeUnknown => "outcome_unknown",
        _ => status.ToString(),
    };

    private static Decision DecideSubscribe(SubscribeReplyStream cmd, InstanceState state, string id)
    {
        // Resuming another task's stream: a task this instance does not know is refused, never answered with another reply.
        var latest = state.Current?.TaskId ?? state.LastTask?.TaskId;
        if (cmd.ResumeTaskId is { } resume && resume != latest && !state.KnowsTask(resume))
            return new Decision.Refuse(new Rejected(ErrorCodes.TaskNotFound,
                $"instance '{id}' has no task '{resume}' to resume; read the instance for its conversation"));
        return new Decision.Proceed();
    }

    private static Decision DecideReap(ReapInstance cmd, InstanceState state, DecisionInputs inputs)
    {
        if (state.Expired || !state.Started)
            return new Decision.Ignore(Passivate: inputs.Phase != InstancePhase.Reaping);
        // Only a still-completed instance is reaped; one that moved on since the reaper looked is left alone.
        if (state.Status != InstanceStatus.Completed || inputs.ReapReference != cmd.CompletedAt || state.IsExecuting
            || state.Unsynced.Count > 0)
            return new Decision.Ignore();
        if (state.Start!.Retain || (cmd.OverLimit && state.Config.AllowChat))
            return new Decision.LeaveMemory();
        return new Decision.Persist([new InstanceReaped(inputs.Now)]);
    }

    /// <summary>
    /// What a turn found running on recovery becomes, by its active step: a model call's outcome is unknown (the provider
    /// stream died with the node), so the turn ends failed with <c>interrupted</c> and the caller may send it again. Null
    /// when nothing was running.
    /// </summary>
    public static IInstanceEvent? Recover(InstanceState state, DateTimeOffset now) => state.Current switch
    {
        { ActiveStep: ModelCallStep { Iteration: 0 } } turn => new ExecutionFailed(turn.TaskId, ErrorCodes.Interrupted,
            "the task was interrupted (the instance stopped while it was running); send the message again to retry",
            "", Models.TokenUsage.None, 0m, null, (now - turn.SubmittedAt).TotalMilliseconds, now),
        _ => null,
    };

    /// <summary>
    /// What the tool calls found started on recovery become, by policy: an at-most-once call is not made again and ends
    /// <c>outcome_unknown</c> (these events); an idempotent one is made again with the same key (<see cref="CallsToRerun"/>).
    /// A later model call of a turn (its tools have run) is made again; a call waiting for a decision keeps waiting.
    /// </summary>
    public static IReadOnlyList<IInstanceEvent> RecoverTools(InstanceState state, DateTimeOffset now) =>
        state.Current is { ToolStep: { } step } turn
            ? step.Calls.Where(c => c is { Status: ToolCallStatus.Running, Policy: Tools.ToolPolicy.AtMostOnce })
                .Select(c => (IInstanceEvent)new ToolCallFinished(turn.TaskId, c.CallId, ToolCallStatus.OutcomeUnknown,
                    Tools.ToolResults.OutcomeUnknown, c.StartedAt is { } at ? (now - at).TotalMilliseconds : 0, now))
                .ToArray()
            : [];

    /// <summary>The started idempotent calls of the running step: made again after recovery.</summary>
    public static IReadOnlyList<ToolCallEntry> CallsToRerun(InstanceState state) =>
        state.Current?.ToolStep?.Calls.Where(c => c is { Status: ToolCallStatus.Running, Policy: Tools.ToolPolicy.Idempotent }).ToArray() ?? [];

    private static Decision DecideCheck(CheckTask cmd, InstanceState state, DecisionInputs inputs)
    {
        var unknown = new TaskUnknown(inputs.InstanceId, cmd.TaskId);
        if (state.Expired || !state.Started)
            return new Decision.Answer(unknown, Passivate: inputs.Phase != InstancePhase.Reaping);
        if (state.Current?.TaskId == cmd.TaskId)
            return new Decision.Ignore(); // running here
        // A row the journal still lists goes again; no outcome of any other task will ever come from here.
        return state.Unsynced.ContainsKey(cmd.TaskId) ? new Decision.Proceed() : new Decision.Answer(unknown);
    }
}
