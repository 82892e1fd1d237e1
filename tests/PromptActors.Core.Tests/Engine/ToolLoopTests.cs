using PromptActors.Instances;
using PromptActors.Prompts;
using PromptActors.Runs;
using PromptActors.Streaming;
using PromptActors.Testing;
using PromptActors.Tests.Support;
using Xunit.Abstractions;

namespace PromptActors.Tests.Engine;

/// <summary>The durable tool loop: model call → journaled tool calls → results → the next model call, exactly once.</summary>
public sealed class ToolLoopTests : EngineTestKit
{
    private readonly ToolBox _box;

    public ToolLoopTests(ITestOutputHelper output) : this(output, new ToolBox())
    {
    }

    private ToolLoopTests(ITestOutputHelper output, ToolBox box) : base(output, o => box.Register(o.Tools)) => _box = box;

    private Task<Prompt> SaveToolPromptAsync(string id, string model, params string[] tools) =>
        SaveToolPromptAsync(id, new PromptSettings(model, Tools: tools));

    private Task<Prompt> SaveToolPromptAsync(string id, PromptSettings settings) =>
        Engine.SavePromptAsync(new PromptDefinition(id, id, [new(MessageRole.System, "You help with orders.")], Settings: settings));

    [Fact]
    public async Task The_local_model_calls_a_named_tool_then_answers_with_its_result_and_every_step_is_in_the_conversation_and_the_row()
    {
        await SaveToolPromptAsync("orders", "local", "lookup_order");
        var instance = await StartAsync("orders");

        var streamed = await Engine.ExecuteMessageStreamAsync(instance.InstanceId, """where is lookup_order {"orderId":"A-1"}""", null);
        var events = new List<ReplyEvent>();
        await foreach (var e in streamed.Events)
            events.Add(e);

        var done = Assert.IsType<ReplyCompleted>(events[^1]);
        Assert.Equal("""lookup_order returned {"orderId":"A-1","status":"shipped"}""", done.Text);
        Assert.Equal(1, _box.Lookups);
        Assert.Equal(streamed.Accepted.TaskId + ":call_1", Assert.Single(_box.Keys));
        // One ordered stream: the call, its result, then the next model call's chunks, indices counting across steps.
        var call = Assert.IsType<ReplyToolCall>(events[0]);
        Assert.Equal(("call_1", "lookup_order", ToolCallStatus.Running), (call.CallId, call.Name, call.Status));
        var result = Assert.IsType<ReplyToolResult>(events[1]);
        Assert.Equal(ToolCallStatus.Completed, result.Status);
        Assert.Equal([0L, 1L, 2L], events.Take(3).Select(Index));
        Assert.Equal(done.Text, string.Concat(events.OfType<ReplyChunk>().Select(c => c.Text)));

        var view = await Engine.GetInstanceAsync(instance.InstanceId);
        Assert.Equal([MessageRole.User, MessageRole.Assistant, MessageRole.Tool, MessageRole.Assistant], view.Conversation.Select(m => m.Role));
        Assert.Equal("lookup_order", Assert.Single(view.Conversation[1].ToolCalls!).Name);
        Assert.Equal("call_1", view.Conversation[2].ToolCallId);
        var run = await AwaitRunAsync(view.RunTracking.RunId!, 1);
        var row = Assert.Single(run.Tasks);
        Assert.Equal(RunTaskStatus.Completed, row.Status);
        // Both model calls' tokens are the turn's.
        Assert.Equal(view.RunTracking.TotalTokens, row.TokensTotal);
        Assert.True(row.TokensInput > TokenCount(view.Conversation[0].Content));
        // Each model call with its own figures (one ai_tasks row each), adding up to the turn's.
        var calls = row.ModelCalls!;
        Assert.Equal([0, 1], calls.Select(c => c.Step));
        Assert.All(calls, c => Assert.Equal(RunTaskStatus.Completed, c.Status));
        Assert.All(calls, c => Assert.True(c.TokensOutput > 0 && c.TotalTimeMs >= 0));
        Assert.Equal(row.TokensTotal, calls.Sum(c => c.TokensTotal));
        Assert.Equal(row.Cost, calls.Sum(c => c.Cost));
        Assert.Null(calls[0].TimeToFirstTokenMs); // it streamed no text, only the call
        Assert.NotNull(calls[1].TimeToFirstTokenMs);
        Assert.Equal(row.TimeToFirstTokenMs, calls[1].TimeToFirstTokenMs); // the turn's first token
        Assert.True(calls[1].StartedAt >= calls[0].CompletedAt);
        Assert.True(calls[1].TokensInput > calls[0].TokensInput); // the second call also reads the tool's result
        var history = await Engine.GetHistoryAsync(instance.InstanceId);
        Assert.Equal(["started", "message", "tool_calls", "tool_result", "completed"], history.Events.Select(e => e.Kind));
        Assert.Contains("lookup_order (call_1, running)", history.Events[2].Summary);
        Assert.Equal("tool call call_1 completed", history.Events[3].Summary);
    }

    [Fact]
    public async Task Parallel_calls_of_one_step_all_run_and_the_next_model_call_gets_every_result()
    {
        await SaveToolPromptAsync("orders", PromptActorsTestKit.ScriptedModelId, "lookup_order", "broken");
        Model.Enqueue(ScriptedReply.Calls(("c1", "lookup_order", """{"orderId":"A-1"}"""), ("c2", "lookup_order", """{"orderId":"B-2"}"""),
            ("c3", "broken", "{}")), ScriptedReply.Text("both shipped"));
        var instance = await StartAsync("orders");

        var reply = Assert.IsType<ReplyCompleted>(await SendAsync(instance.InstanceId, "check A-1 and B-2"));

        Assert.Equal("both shipped", reply.Text);
        Assert.Equal(2, _box.Lookups);
        var second = Model.Requests[1];
        var results = second.SelectMany(m => m.Contents).OfType<Microsoft.Extensions.AI.FunctionResultContent>().ToDictionary(r => r.CallId, r => r.Result?.ToString());
        Assert.Contains("A-1", results["c1"]);
        Assert.Contains("B-2", results["c2"]);
        // A tool's exception is an error result for the model, not a failed turn.
        Assert.StartsWith("error: the tool failed: the warehouse is on fire", results["c3"]);
        Assert.Equal(3, second.SelectMany(m => m.Contents).OfType<Microsoft.Extensions.AI.FunctionCallContent>().Count());
        // The tools were offered as declarations the pipeline cannot invoke.
        Assert.All(Model.Options[0]!.Tools!, t => Assert.IsNotType<Microsoft.Extensions.AI.AIFunction>(t, exactMatch: false));
    }

    [Fact]
    public async Task Arguments_that_are_not_json_or_do_not_fit_the_schema_are_refused_to_the_model_without_invoking()
    {
        await SaveToolPromptAsync("orders", PromptActorsTestKit.ScriptedModelId, "lookup_order");
        Model.Enqueue(ScriptedReply.Calls(("c1", "lookup_order", "{\"orderId\": "), ("c2", "lookup_order", """{"order":"A-1"}"""),
            ("c3", "delete_everything", "{}")), ScriptedReply.Text("sorry"));
        var instance = await StartAsync("orders");

        Assert.IsType<ReplyCompleted>(await SendAsync(instance.InstanceId, "check"));

        Assert.Equal(0, _box.Lookups);
        var results = Model.Requests[1].SelectMany(m => m.Contents).OfType<Microsoft.Extensions.AI.FunctionResultContent>()
            .ToDictionary(r => r.CallId, r => r.Result?.ToString() ?? "");
        Assert.Contains("not valid JSON", results["c1"]);
        Assert.Contains("do not match the tool's schema", results["c2"]);
        Assert.Contains("there is no tool named 'delete_everything'", results["c3"]);
    }

    [Fact]
    public async Task A_turn_that_keeps_asking_for_tools_fails_max_iterations_with_its_usage_kept()
    {
        await SaveToolPromptAsync("loop", new PromptSettings("local", Tools: ["lookup_order"], ToolChoice: "required", MaxIterations: 3));
        var instance = await StartAsync("loop");

        var failed = Assert.IsType<ReplyFailed>(await SendAsync(instance.InstanceId, """lookup_order {"orderId":"A-1"}"""));

        Assert.Equal(ErrorCodes.MaxIterations, failed.Code);
        Assert.Equal(2, _box.Lookups); // three model calls, the first two answered with a call each
        var view = await Engine.GetInstanceAsync(instance.InstanceId);
        Assert.Empty(view.Conversation); // a failed turn leaves no trace in the conversation; the steps are in the journal
        var row = Assert.Single((await AwaitRunAsync(view.RunTracking.RunId!, 1)).Tasks);
        Assert.Equal(ErrorCodes.MaxIterations, row.ErrorCode);
        Assert.True(row.TokensTotal > 0);
    }

    [Fact]
    public async Task A_tool_that_hangs_past_its_timeout_fails_and_the_turn_goes_on()
    {
        await SaveToolPromptAsync("hang", PromptActorsTestKit.ScriptedModelId, "hang");
        Model.Enqueue(ScriptedReply.Calls(("c1", "hang", "{}")), ScriptedReply.Text("it timed out"));
        var instance = await StartAsync("hang");
        await Engine.ExecuteMessageAsync(instance.InstanceId, "go");
        await _box.Started.Task.WaitAsync(TimeSpan.FromSeconds(10));

        await AwaitAssertAsync(() =>
        {
            Clock.Advance(TimeSpan.FromSeconds(1));
            Assert.Equal(2, Model.Requests.Count);
            return Task.CompletedTask;
        });

        Assert.IsType<ReplyCompleted>(await Engine.WaitForReplyAsync(instance.InstanceId));
        var result = Model.Requests[1].SelectMany(m => m.Contents).OfType<Microsoft.Extensions.AI.FunctionResultContent>().Single();
        Assert.Contains("did not finish within 2 s", result.Result?.ToString());
    }

    [Fact]
    public async Task An_approval_pauses_the_turn_and_is_decided_exactly_once()
    {
        await SaveToolPromptAsync("refunds", "local", "refund_order");
        var instance = await StartAsync("refunds");
        var accepted = await Engine.ExecuteMessageAsync(instance.InstanceId, """please refund_order {"orderId":"A-1"}""");

        var waiting = await AwaitViewAsync(instance.InstanceId, v => v.Status == InstanceStatus.AwaitingApproval);
        var pending = Assert.Single(waiting.Execution.PendingToolCalls!);
        Assert.Equal(("call_1", "refund_order", ToolCallStatus.AwaitingApproval), (pending.CallId, pending.Name, pending.Status));
        Assert.Equal(0, _box.Refunds);
        await Refused<PromptActorsException>(() => Engine.DecideToolCallAsync(instance.InstanceId, "call_9", true))
            .ContinueWith(t => Assert.Equal(ErrorCodes.ToolCallNotFound, t.Result.Code));

        var decision = await Engine.DecideToolCallAsync(instance.InstanceId, "call_1", approve: true);

        Assert.Equal((accepted.TaskId, true), (decision.TaskId, decision.Approved));
        var done = Assert.IsType<ReplyCompleted>(await Engine.WaitForReplyAsync(instance.InstanceId));
        Assert.Equal("refund_order returned refund of A-1 issued", done.Text);
        Assert.Equal(1, _box.Refunds);
        var again = await Refused<PromptActorsException>(() => Engine.DecideToolCallAsync(instance.InstanceId, "call_1", false));
        Assert.Equal(ErrorCodes.AlreadyDecided, again.Code);
        Assert.Equal(1, _box.Refunds);
        // The ledger row says who decided what (a trusted caller: nobody named).
        var view = await Engine.GetInstanceAsync(instance.InstanceId);
        var ledger = Assert.Single(Assert.Single((await AwaitRunAsync(view.RunTracking.RunId!, 1)).Tasks).ToolCalls!);
        Assert.Equal(("call_1", "refund_order", "completed", "approved", "at_most_once"), (ledger.CallId, ledger.Tool, ledger.Status, ledger.Decision, ledger.Policy));
        Assert.Contains("A-1", ledger.Arguments);
    }

    [Fact]
    public async Task A_rejection_is_told_to_the_model_and_the_tool_never_runs()
    {
        var instance = await RefundAwaitingApprovalAsync();

        await Engine.DecideToolCallAsync(instance.InstanceId, "call_1", approve: false, reason: "over the limit");

        var done = Assert.IsType<ReplyCompleted>(await Engine.WaitForReplyAsync(instance.InstanceId));
        Assert.Contains("rejected: a person declined this call (over the limit)", done.Text);
        Assert.Equal(0, _box.Refunds);
        var twice = await Refused<PromptActorsException>(() => Engine.DecideToolCallAsync(instance.InstanceId, "call_1", true));
        Assert.Equal(ErrorCodes.AlreadyDecided, twice.Code);
    }

    [Fact]
    public async Task A_pending_approval_survives_the_instance_stopping_and_is_decided_after_recovery()
    {
        var instance = await RefundAwaitingApprovalAsync();

        await StopEntityAsync(instance.InstanceId);

        var recovered = await Engine.GetInstanceAsync(instance.InstanceId);
        Assert.Equal(InstanceStatus.AwaitingApproval, recovered.Status);
        Assert.Equal("call_1", Assert.Single(recovered.Execution.PendingToolCalls!).CallId);
        await Engine.DecideToolCallAsync(instance.InstanceId, "call_1", approve: true);
        Assert.IsType<ReplyCompleted>(await Engine.WaitForReplyAsync(instance.InstanceId));
        Assert.Equal(1, _box.Refunds);
    }

    [Fact]
    public async Task An_at_most_once_call_running_when_the_instance_stops_is_not_made_again_and_the_model_is_told_outcome_unknown()
    {
        await SaveToolPromptAsync("charge", PromptActorsTestKit.ScriptedModelId, "lookup_order", "slow_charge");
        Model.Enqueue(ScriptedReply.Calls(("a", "lookup_order", """{"orderId":"A-1"}"""), ("b", "slow_charge", """{"orderId":"A-1"}""")),
            ScriptedReply.Text("done"));
        var instance = await StartAsync("charge");
        await Engine.ExecuteMessageAsync(instance.InstanceId, "charge it");
        await _box.Started.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await AwaitAssertAsync(() => Assert.Equal(1, _box.Lookups));
        await AwaitViewAsync(instance.InstanceId, v => v.Conversation.Any(m => m.Role == MessageRole.Tool && m.ToolCallId == "a"));

        await StopEntityAsync(instance.InstanceId);
        await Engine.GetInstanceAsync(instance.InstanceId); // recovers it

        Assert.IsType<ReplyCompleted>(await Engine.WaitForReplyAsync(instance.InstanceId));
        Assert.Equal(1, _box.Lookups); // the completed call is not made again
        Assert.Equal(1, _box.SlowStarts); // nor the at-most-once one
        var results = Model.Requests[1].SelectMany(m => m.Contents).OfType<Microsoft.Extensions.AI.FunctionResultContent>()
            .ToDictionary(r => r.CallId, r => r.Result?.ToString() ?? "");
        Assert.StartsWith("outcome_unknown", results["b"]);
    }

    [Fact]
    public async Task An_idempotent_call_running_when_the_instance_stops_is_made_again_with_the_same_key()
    {
        await SaveToolPromptAsync("find", PromptActorsTestKit.ScriptedModelId, "slow_lookup");
        Model.Enqueue(ScriptedReply.Calls(("a", "slow_lookup", """{"orderId":"A-1"}""")), ScriptedReply.Text("found it"));
        var instance = await StartAsync("find");
        var accepted = await Engine.ExecuteMessageAsync(instance.InstanceId, "find it");
        await _box.Started.Task.WaitAsync(TimeSpan.FromSeconds(10));

        await StopEntityAsync(instance.InstanceId);
        _box.ResetStarted();
        await Engine.GetInstanceAsync(instance.InstanceId);
        await _box.Started.Task.WaitAsync(TimeSpan.FromSeconds(10));
        _box.SlowGate.SetResult();

        Assert.IsType<ReplyCompleted>(await Engine.WaitForReplyAsync(instance.InstanceId));
        Assert.Equal(2, _box.SlowStarts);
        Assert.Equal([accepted.TaskId + ":a", accepted.TaskId + ":a"], _box.Keys.ToArray());
    }

    [Fact]
    public async Task Cancel_during_a_tool_call_cancels_its_token_and_ends_the_turn_cancelled()
    {
        await SaveToolPromptAsync("charge", PromptActorsTestKit.ScriptedModelId, "slow_charge");
        Model.Enqueue(ScriptedReply.Calls(("a", "slow_charge", """{"orderId":"A-1"}""")));
        var instance = await StartAsync("charge");
        await Engine.ExecuteMessageAsync(instance.InstanceId, "charge it");
        await _box.Started.Task.WaitAsync(TimeSpan.FromSeconds(10));

        var cancel = await Engine.CancelAsync(instance.InstanceId);

        Assert.True(cancel.Cancelled);
        var failed = Assert.IsType<ReplyFailed>(await Engine.WaitForReplyAsync(instance.InstanceId));
        Assert.Equal(ErrorCodes.Cancelled, failed.Code);
        Assert.Single(Model.Requests);
        Assert.Equal(InstanceStatus.Ready, (await Engine.GetInstanceAsync(instance.InstanceId)).Status);
    }

    [Fact]
    public async Task A_stream_resumed_in_the_second_model_call_returns_exactly_the_rest()
    {
        await SaveToolPromptAsync("orders", PromptActorsTestKit.ScriptedModelId, "lookup_order");
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Model.Enqueue(ScriptedReply.Calls(("a", "lookup_order", """{"orderId":"A-1"}""")),
            ScriptedReply.Text("one ", "two ", "three") with { BeforeChunk = (i, ct) => i == 2 ? release.Task.WaitAsync(ct) : Task.CompletedTask });
        var instance = await StartAsync("orders");
        var accepted = await Engine.ExecuteMessageAsync(instance.InstanceId, "check");
        // Read until the second model call's second chunk (index 3: call 0, result 1, chunks 2 and 3).
        var seen = new List<ReplyEvent>();
        await foreach (var e in Engine.StreamAsync(instance.InstanceId))
        {
            seen.Add(e);
            if (e is ReplyChunk { Index: 3 })
                break;
        }

        var rest = Engine.ResumeStreamAsync(instance.InstanceId, accepted.TaskId, 3);
        release.SetResult();
        var after = new List<ReplyEvent>();
        await foreach (var e in rest)
            after.Add(e);

        Assert.Equal([0L, 1L, 2L, 3L], seen.Select(Index));
        Assert.Equal("three", Assert.IsType<ReplyChunk>(after[0]).Text);
        Assert.Equal(4, Index(after[0]));
        Assert.IsType<ReplyCompleted>(Assert.Single(after.Skip(1)));
    }

    [Fact]
    public async Task A_client_tool_call_waits_for_the_callers_result_across_a_restart_and_the_turn_goes_on_with_it()
    {
        await SaveToolPromptAsync("where", new PromptSettings("local", ClientTools:
            [new ClientTool("get_location", "The user's location", """{"type":"object","properties":{"precision":{"type":"string"}}}""")]));
        var instance = await StartAsync("where");
        var accepted = await Engine.ExecuteMessageAsync(instance.InstanceId, """near me? get_location {"precision":"city"}""");

        var waiting = await AwaitViewAsync(instance.InstanceId, v => v.Status == InstanceStatus.AwaitingToolResults);
        var pending = Assert.Single(waiting.Execution.PendingToolCalls!);
        Assert.Equal(("call_1", "get_location", ToolCallStatus.AwaitingClient), (pending.CallId, pending.Name, pending.Status));
        var wrong = await Refused<PromptActorsException>(() => Engine.SubmitToolResultsAsync(instance.InstanceId, [new ClientToolResult("call_7", "x")]));
        Assert.Equal(ErrorCodes.ToolCallNotAwaiting, wrong.Code);

        await StopEntityAsync(instance.InstanceId);
        Assert.Equal(InstanceStatus.AwaitingToolResults, (await Engine.GetInstanceAsync(instance.InstanceId)).Status);
        var posted = await Engine.SubmitToolResultsAsync(instance.InstanceId, [new ClientToolResult("call_1", "Lisbon")]);

        Assert.Equal(accepted.TaskId, posted.TaskId);
        var done = Assert.IsType<ReplyCompleted>(await Engine.WaitForReplyAsync(instance.InstanceId));
        Assert.Equal("get_location returned Lisbon", done.Text);
        var again = await Refused<PromptActorsException>(() => Engine.SubmitToolResultsAsync(instance.InstanceId, [new ClientToolResult("call_1", "Porto")]));
        Assert.Equal(ErrorCodes.ToolCallNotAwaiting, again.Code);
    }

    [Fact]
    public async Task After_a_restart_the_stream_numbers_the_turn_s_events_as_the_live_stream_did()
    {
        await SaveToolPromptAsync("orders", PromptActorsTestKit.ScriptedModelId, "lookup_order");
        // The refused call's result comes before the good call's, although the good call is listed first.
        Model.Enqueue(ScriptedReply.Calls(("a", "lookup_order", """{"orderId":"A-1"}"""), ("b", "nope", "{}")),
            ScriptedReply.Text("never") with { Gate = new TaskCompletionSource().Task }, ScriptedReply.Text("done"));
        var instance = await StartAsync("orders");
        await Engine.ExecuteMessageAsync(instance.InstanceId, "check");
        var live = new List<ReplyEvent>();
        await foreach (var e in Engine.StreamAsync(instance.InstanceId))
        {
            live.Add(e);
            if (live.Count == 4)
                break;
        }
        await AwaitAssertAsync(() => Assert.Equal(2, Model.Requests.Count)); // in the second model call

        await StopEntityAsync(instance.InstanceId);
        var rebuilt = new List<ReplyEvent>();
        await foreach (var e in await Engine.OpenStreamAsync(instance.InstanceId))
            rebuilt.Add(e);

        static (long, string, string) Key(ReplyEvent e) => e switch
        {
            ReplyToolCall c => (c.Index, "call", c.CallId),
            ReplyToolResult r => (r.Index, "result", r.CallId),
            _ => (-1, e.GetType().Name, ""),
        };
        Assert.Equal([(0L, "call", "a"), (1L, "call", "b"), (2L, "result", "b"), (3L, "result", "a")], live.Select(Key));
        Assert.Equal(live.Select(Key), rebuilt.Take(4).Select(Key));
        Assert.Equal("done", Assert.IsType<ReplyCompleted>(rebuilt[^1]).Text);
        Assert.Equal(4, Assert.IsType<ReplyChunk>(rebuilt[^2]).Index);
    }

    [Fact]
    public async Task A_provider_that_repeats_a_call_id_in_the_next_step_gets_a_fresh_one_so_every_call_has_its_own_key_and_row()
    {
        await SaveToolPromptAsync("orders", PromptActorsTestKit.ScriptedModelId, "lookup_order");
        Model.Enqueue(ScriptedReply.Calls(("call_0", "lookup_order", """{"orderId":"A-1"}""")),
            ScriptedReply.Calls(("call_0", "lookup_order", """{"orderId":"B-2"}""")), ScriptedReply.Text("both"));
        var instance = await StartAsync("orders");

        Assert.IsType<ReplyCompleted>(await SendAsync(instance.InstanceId, "check"));

        Assert.Equal(2, _box.Keys.Distinct().Count());
        var view = await Engine.GetInstanceAsync(instance.InstanceId);
        var ledger = Assert.Single((await AwaitRunAsync(view.RunTracking.RunId!, 1)).Tasks).ToolCalls!;
        Assert.Equal(2, ledger.Select(c => c.CallId).Distinct().Count());
        Assert.Equal("call_0", ledger[0].CallId);
    }

    [Fact]
    public async Task Client_tools_declared_in_the_start_request_join_the_prompt_s_for_that_instance()
    {
        await SaveToolPromptAsync("plain", new PromptSettings("local", Tools: ["lookup_order"]));
        var instance = await Engine.StartInstanceAsync(new PromptActors.Engine.StartInstanceRequest("plain", TestCaller,
            ClientTools: [new ClientTool("get_location", "Where the user is")]));
        await Engine.ExecuteMessageAsync(instance.InstanceId, "get_location {}");

        var waiting = await AwaitViewAsync(instance.InstanceId, v => v.Status == InstanceStatus.AwaitingToolResults);
        Assert.Equal("get_location", Assert.Single(waiting.Execution.PendingToolCalls!).Name);
        // Another instance of the same prompt does not have it; a name that clashes with the prompt's tools is refused.
        var other = await StartAsync("plain");
        Assert.IsType<ReplyCompleted>(await SendAsync(other.InstanceId, "get_location {}"));
        var clash = await Refused<ValidationFailedException>(() => Engine.StartInstanceAsync(new PromptActors.Engine.StartInstanceRequest(
            "plain", TestCaller, ClientTools: [new ClientTool("lookup_order")])));
        Assert.Contains("lookup_order", clash.Message);
        await Refused<ValidationFailedException>(() => Engine.StartInstanceAsync(new PromptActors.Engine.StartInstanceRequest(
            "plain", TestCaller, ClientTools: [new ClientTool("bad name")])));
    }

    [Fact]
    public async Task Saving_a_prompt_that_offers_an_unknown_tool_is_refused()
    {
        var e = await Refused<ValidationFailedException>(() => SaveToolPromptAsync("bad", "local", "lookup_order", "launch_rockets"));
        Assert.Contains("launch_rockets", e.Message);
        await Refused<ValidationFailedException>(() => SaveToolPromptAsync("bad2", new PromptSettings("local", Tools: ["lookup_order"], ToolChoice: "other")));
        await Refused<ValidationFailedException>(() => SaveToolPromptAsync("bad3", new PromptSettings("local", Tools: ["lookup_order"], MaxIterations: 0)));
        await Refused<ValidationFailedException>(() => SaveToolPromptAsync("bad4", new PromptSettings("local", Tools: ["lookup_order"],
            ClientTools: [new ClientTool("lookup_order")])));
        await Refused<ValidationFailedException>(() => SaveToolPromptAsync("bad5", new PromptSettings("local", ClientTools: [new ClientTool("x", Parameters: "[1]")])));
        Assert.Null(await Engine.GetPromptAsync("bad"));
    }

    /// <summary>An instance whose turn waits for the approval of refund_order's call_1.</summary>
    private async Task<InstanceView> RefundAwaitingApprovalAsync()
    {
        await SaveToolPromptAsync("refunds", "local", "refund_order");
        var instance = await StartAsync("refunds");
        await Engine.ExecuteMessageAsync(instance.InstanceId, """refund_order {"orderId":"A-1"}""");
        return await AwaitViewAsync(instance.InstanceId, v => v.Status == InstanceStatus.AwaitingApproval);
    }

    private static long Index(ReplyEvent e) => e switch
    {
        ReplyChunk c => c.Index,
        ReplyToolCall t => t.Index,
        ReplyToolResult r => r.Index,
        _ => -1,
    };

    private static int TokenCount(string text) => PromptActors.Models.TokenCounter.Count(text);

    private async Task<InstanceView> AwaitViewAsync(string instanceId, Func<InstanceView, bool> condition)
    {
        InstanceView? view = null;
        await AwaitAssertAsync(async () =>
        {
            view = await Engine.GetInstanceAsync(instanceId);
            Assert.True(condition(view), "the instance is " + view.Status);
        });
        return view!;
    }
}
