using PromptActors.Instances;
using PromptActors.Models;
using PromptActors.Prompts;
using PromptActors.Runs;
using PromptActors.Variables;
using PromptActors.Streaming;

namespace PromptActors.Tests.Serialization;

/// <summary>One fully populated sample of every message type, with fixed values (the golden fixtures are built from these).</summary>
internal static class SerializationSamples
{
    private static readonly DateTimeOffset At = new(2026, 11, 23, 9, 30, 15, TimeSpan.Zero);
    private static readonly InstanceScope Scope = new("u1", "o1", "p1");
    private static readonly ExecutionConfig Config = new(true, false, true, false, true);
    private static readonly PromptSettings Settings = new("local", 0.7, 0.9, 512, ["END"]);
    private static readonly TokenUsage Usage = new(120, 40, 20);
    private static readonly ExecutionStats Stats = new(12.5, 340.25, 120, 40, 160, 0.00056m, false);

    private static readonly Prompt Prompt = new("travel-advisor", 2, "Travel Advisor", "Advises",
        [new PromptMessage(MessageRole.System, "You advise on {{city}}."), new PromptMessage(MessageRole.User, "Tell me about {{what}}.")],
        [new VariableDefault("city", "Las Vegas"), new VariableDefault("what", null, true)], Settings, MissingVariablePolicy.Keep, At, At);

    private static readonly RunInfo Run = new("run-1", "u1", "o1", "p1", "prompt", "travel-advisor", "demo", "travel-advisor", 2,
        Settings, new Dictionary<string, string> { ["city"] = "Paris" }, At);

    private static readonly RunTaskRecord Task = new(Run, "task-1", "local", "local", "And museums?", RunTaskStatus.Completed,
        "Louvre.", null, null, 120, 40, 160, 0.00056m, 12.5, 340.25, At, At, At);

    private static readonly InstanceStarted Started = new("i-1", "travel-advisor", 2, Scope,
        new Dictionary<string, string> { ["city"] = "Paris" }, Config, new RunSource("prompt", "travel-advisor"), "demo", true, Settings, At);

    /// <summary>
    /// Events in the JSON form earlier versions journaled, still read (golden fixtures only, never written): each reads
    /// back as this sample.
    /// </summary>
    public static IReadOnlyDictionary<string, object> ReadOnly { get; } = new Dictionary<string, object>
    {
        ["ev.submitted.v1"] = new MessageSubmitted("task-1", "run-1", "And museums?", "local", "local", At),
        ["ev.completed.v1"] = new ExecutionCompleted("task-1", "Louvre.", Usage, 0.00056m, 12.5, 340.25, At),
    };

    /// <summary>Persisted events and snapshots: changing how these serialize breaks stored journals.</summary>
    public static IReadOnlyDictionary<string, object> Persisted { get; } = new Dictionary<string, object>
    {
        ["ev.started.v1"] = Started,
        ["ev.vars.v1"] = new VariablesUpdated(new Dictionary<string, string> { ["city"] = "Rome" }, ["old"], At),
        ["sub.v2"] = new MessageSubmitted("3f2b8c1d9e0a4b5c8d7e6f5a4b3c2d1e", "run-1", "And museums? é€😀", "local", "local",
            At, "request-1", ["0123456789abcdef0123456789abcdef", "task-0"]),
        ["done.v2"] = new ExecutionCompleted("3f2b8c1d9e0a4b5c8d7e6f5a4b3c2d1e", "Louvre.", Usage, 0.000560m, 12.5, 340.25,
            At.ToOffset(TimeSpan.FromHours(2))),
        ["ev.failed.v1"] = new ExecutionFailed("task-2", ErrorCodes.ProviderError, "HTTP 500", "Lou", Usage, 0.0001m, 10, 20, At),
        ["ev.cancelled.v1"] = new ExecutionCancelled("task-3", "Lo", Usage with { Estimated = true }, 0.00002m, null, 5, At),
        ["ev.synced.v1"] = new TaskSynced("task-1"),
        ["ev.reaped.v1"] = new InstanceReaped(At),
        ["ev.forked.v1"] = new InstanceForked(Started with { InstanceId = "i-2" }, new Dictionary<string, string> { ["city"] = "Paris" },
            [new ConversationMessage(MessageRole.User, "And museums?", "task-1", At), new ConversationMessage(MessageRole.Assistant, "Louvre.", "task-1", At)],
            "i-1", 3, At),
        ["ev.toolsrequested.v1"] = new ToolCallsRequested("task-4", 0, "Let me look.",
            [new RequestedToolCall("call_1", "lookup_order", "{\"orderId\":\"A-1\"}", ToolCallStatus.Running, PromptActors.Tools.ToolPolicy.Idempotent),
             new RequestedToolCall("call_2", "refund_order", "{\"orderId\":\"A-1\"}", ToolCallStatus.AwaitingApproval, PromptActors.Tools.ToolPolicy.AtMostOnce),
             new RequestedToolCall("call_3", "nope", "{}", ToolCallStatus.Failed, PromptActors.Tools.ToolPolicy.AtMostOnce, "error: there is no tool named 'nope'")],
            Usage, 0.0001m, 8.5, 30.5, At, 3),
        ["ev.toolfinished.v1"] = new ToolCallFinished("task-4", "call_1", ToolCallStatus.Completed, "{\"status\":\"shipped\"}", 12.25, At),
        ["ev.tooldecided.v1"] = new ToolCallDecided("task-4", "call_2", false, "too large", "key-1", At),
        ["ev.repairrequested.v1"] = new OutputRepairRequested("task-5", 0, "{\"city\": 3}", "/city: expected string", Usage, 0.0002m, 4.5,
            20.25, At, 4),
        ["snap.instance.v1"] = new InstanceSnapshot(Started, new Dictionary<string, string> { ["city"] = "Paris" },
            [new ConversationMessage(MessageRole.User, "And museums?", "task-1", At), new ConversationMessage(MessageRole.Assistant, "Louvre.", "task-1", At)],
            InstanceStatus.Completed, new CurrentTask("task-9", "hi", "local", "local", At),
            new FinishedTask("task-1", TaskOutcome.Completed, "Louvre.", null, null, Stats), Stats,
            new TaskError("task-0", ErrorCodes.Interrupted, "interrupted"), "run-1", At, 160, 0.00056m, 1, At, At, [Task], false),
    };

    public static IEnumerable<object> All(Akka.Streams.ISourceRef<ReplyEvent> someStream) => Persisted.Values.Concat(new object[]
    {
        new StartInstance("i-1", "travel-advisor", Scope, new Dictionary<string, string> { ["city"] = "Paris" }, Config,
            new RunSource("prompt", "x"), "demo", true, 2, "local"),
        new ExecuteMessage("i-1", "hi"),
        new ForkInstance("i-2", Scope, Started, new Dictionary<string, string> { ["city"] = "Paris" },
            [new ConversationMessage(MessageRole.User, "And museums?", "task-1", At)], "i-1", 3, Scope, "key-1"),
        ReadHistory.Instance,
        ReadForkBasis.Instance,
        new ForkBasis(Started, new Dictionary<string, string> { ["city"] = "Paris" },
            [new ConversationMessage(MessageRole.User, "And museums?", "task-1", At)], 3),
        new InstanceHistory("i-1", 3, 3,
            [new HistoryEntry(1, At, "started", "started from prompt travel-advisor v2", Variables: new Dictionary<string, string> { ["city"] = "Paris" }),
             new HistoryEntry(2, At, "message", "message sent", "task-1", "And museums?"),
             new HistoryEntry(3, At, "variables", "variables set: none; removed: old", Removed: ["old"])],
            new HistoryState(InstanceStatus.Ready, [new ConversationMessage(MessageRole.User, "And museums?", "task-1", At)],
                new Dictionary<string, string> { ["city"] = "Paris" }, 1, "task-1", null, 160, 0.00056m)),
        new ExecuteMessage("i-1", "hi", "request-1"),
        new MessageSubmitted("task-2", null, "Again?", "local", "local", At, "request-1"),
        new CheckTask("i-1", "task-1"),
        new TaskUnknown("i-1", "task-1"),
        new AwaitRunRows("i-1", new InstanceScope("u1", "o1")),
        new RunRowsWritten("i-1", true),
        new DecideToolCall("i-1", "call_2", true, "ok", "key-1", Scope),
        new ToolCallDecision("i-1", "task-4", "call_2", true),
        new SubmitToolResults("i-1", [new ClientToolResult("call_5", "{\"ok\":true}")], Scope),
        new ToolResultsAccepted("i-1", "task-4", ["call_5"]),
        new ReplyToolCall("task-4", 3, "call_2", "refund_order", "{}", ToolCallStatus.AwaitingApproval),
        new ReplyToolResult("task-4", 4, "call_1", "lookup_order", ToolCallStatus.Completed, "{\"status\":\"shipped\"}"),
        new ReplyRepair("task-5", 4, "/city: expected string"),
        new UpdateVariables("i-1", new Dictionary<string, string> { ["a"] = "b" }, ["c"]),
        new GetInstance("i-1"),
        new GetInstance("i-1", new InstanceScope("u1", "o1", "p1")),
        new CancelExecution("i-1"),
        new CleanupInstance("i-1"),
        new SubscribeReplyStream("i-1", 3),
        new ReapInstance("i-1", At),
        StopInstance.Instance,
        new Rejected(ErrorCodes.MissingVariables, "missing", ["a", "b"]),
        new InstanceView("i-1", "travel-advisor", 2, InstanceStatus.Streaming, Scope, Config, false,
            [new ConversationMessage(MessageRole.User, "hi", "task-1", At)],
            new VariablesView(new Dictionary<string, string> { ["a"] = "1" }, new Dictionary<string, VariableSource> { ["a"] = VariableSource.OrgScope },
                new Dictionary<string, string>()),
            new ExecutionView("task-1", "task-0", Stats, new TaskError("task-0", "cancelled", "x")),
            new RunTrackingView("run-1", "prompt", "x", "demo", 10, 0.1m, 2), "partial", At, At, "akka.tcp://prompt-actors@10.0.0.5:4053"),
        new MessageAccepted("i-1", "task-1", "run-1"),
        new CancelResult("i-1", "task-1", true),
        new InstanceCleanedUp("i-1"),
        new ReplyStreamOffer("i-1", "task-1", someStream, "akka.tcp://prompt-actors@10.0.0.5:4053"),
        new AcceptedStreamOffer(new MessageAccepted("i-1", "task-1", "run-1"),
            new ReplyStreamOffer("i-1", "task-1", someStream, "akka.tcp://prompt-actors@10.0.0.5:4053")),
        new ReplyChunk("task-1", 7, "word "),
        new ReplyCompleted("task-1", "text", Stats),
        new ReplyFailed("task-1", ErrorCodes.Interrupted, "gone", "par"),
        new GetPrompt("travel-advisor", 2),
        new GetPrompt("travel-advisor", null, PromptOwner.Org("o1")),
        new GetPrompt("travel-advisor", null, null, new InstanceScope("u1", "o1", "p1")),
        new PromptFound(Prompt),
        new PromptNotFound("x", null),
        new PromptLoadFailed("x", 1, "timeout"),
        new InvalidatePrompt("x"),
        Prompt,
        new GetScopedVariables(Scope),
        new ScopedVariableValues(new Dictionary<string, string> { ["u"] = "1" }, new Dictionary<string, string>(), new Dictionary<string, string> { ["p"] = "2" }),
        new ScopedVariablesUnavailable("down"),
        new InvalidateScopedVariables(ScopeKind.Project, "p1"),
        new InstanceCompletedNotice("i-1", At, true),
        new InstanceActiveNotice("i-1"),
        GetReaperState.Instance,
        new ReaperState(["i-1", "i-2"]),
        Run,
        Run with { InstanceId = "i-1" },
        Task,
    });
}
