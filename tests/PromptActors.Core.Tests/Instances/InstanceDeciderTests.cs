using PromptActors.Instances;
using PromptActors.Models;
using PromptActors.Prompts;
using PromptActors.Variables;
using Xunit;

namespace PromptActors.Core.Tests.Instances;

/// <summary>
/// <see cref="InstanceDecider.Decide"/> without an actor: every command in every state and phase, each row naming what
/// the instance must do. The actor tests show that what is decided is carried out.
/// </summary>
public sealed class InstanceDeciderTests
{
    private const string Id = "inst-1";
    private static readonly DateTimeOffset T0 = new(2026, 12, 1, 10, 0, 0, TimeSpan.Zero);
    private static readonly InstanceScope Owner = new("u1", "o1", "p1");
    private static readonly InstanceScope Stranger = new("u2", "o1", "p1");

    public enum Given { NotStarted, Ready, Executing, Completed, CompletedNoChat, Expired, UnsyncedCompleted }

    private static InstanceState State(Given given)
    {
        var state = new InstanceState();
        if (given == Given.NotStarted)
            return state;
        var config = new ExecutionConfig(AllowChat: given != Given.CompletedNoChat);
        state.Apply(new InstanceStarted(Id, "p", 1, Owner, new Dictionary<string, string>(), config, new RunSource("api", "x"),
            null, false, new PromptSettings(), T0));
        if (given == Given.Ready)
            return state;
        state.Apply(new MessageSubmitted("t1", "run-1", "hi", "local", "local", T0, RequestId: "r1"));
        if (given == Given.Executing)
            return state;
        state.Apply(new ExecutionCompleted("t1", "hello", new TokenUsage(1, 1), 0m, 1, 2, T0.AddSeconds(1)));
        if (given != Given.UnsyncedCompleted)
            state.Apply(new TaskSynced("t1"));
        if (given == Given.Expired)
            state.Apply(new InstanceReaped(T0.AddMinutes(1)));
        return state;
    }

    private static Decision Decide(IInstanceCommand cmd, Given given, InstancePhase phase = InstancePhase.Running,
        DateTimeOffset? reapReference = null, InstanceSettings? settings = null) =>
        InstanceDecider.Decide(cmd, State(given), new DecisionInputs(Id, phase, settings ?? new InstanceSettings(), T0.AddMinutes(2),
            reapReference));

    private static string Code(Decision d) => Assert.IsType<Decision.Refuse>(d).Rejected.Code;

    public static IEnumerable<object[]> EveryCommand() =>
    [
        [new ExecuteMessage(Id, "more", Caller: Stranger)],
        [new UpdateVariables(Id, new Dictionary<string, string> { ["a"] = "b" }, null, Stranger)],
        [new GetInstance(Id, Stranger)],
        [new CancelExecution(Id, Stranger)],
        [new CleanupInstance(Id, Stranger)],
        [new SubscribeReplyStream(Id, Caller: Stranger)],
        [new AwaitRunRows(Id, Stranger)],
        [new DecideToolCall(Id, "c1", true, Caller: Stranger)],
    ];

    [Theory]
    [MemberData(nameof(EveryCommand))]
    public void A_foreign_caller_gets_an_unknown_ids_answer_in_every_state_and_the_instance_stays(IInstanceCommand cmd)
    {
        foreach (var given in new[] { Given.Ready, Given.Executing, Given.Completed, Given.Expired })
        {
            var refused = Assert.IsType<Decision.Refuse>(Decide(cmd, given));
            Assert.Equal(ErrorCodes.InstanceNotFound, refused.Rejected.Code);
            Assert.Equal($"instance '{Id}' does not exist", refused.Rejected.Detail);
            Assert.False(refused.Passivate);
        }
        // Not started: the same words, and the empty entity leaves memory.
        var unknown = Assert.IsType<Decision.Refuse>(Decide(cmd, Given.NotStarted));
        Assert.Equal(ErrorCodes.InstanceNotFound, unknown.Rejected.Code);
        Assert.Equal($"instance '{Id}' does not exist", unknown.Rejected.Detail);
        Assert.True(unknown.Passivate);
    }

    [Theory]
    [InlineData(Given.NotStarted, null, true)]
    [InlineData(Given.Ready, ErrorCodes.InstanceExists, false)]
    [InlineData(Given.Completed, ErrorCodes.InstanceExists, false)]
    [InlineData(Given.Expired, ErrorCodes.InstanceExpired, false)]
    public void Start(Given given, string? code, bool proceeds)
    {
        var d = Decide(new StartInstance(Id, "p", Owner, Caller: Owner), given);
        if (proceeds)
            Assert.IsType<Decision.Proceed>(d);
        else
            Assert.Equal(code, Code(d));
    }

    private static ForkInstance ForkFor(InstanceScope scope, InstanceScope caller) =>
        new(Id, scope, new InstanceStarted("source", "p", 1, scope, new Dictionary<string, string>(), new ExecutionConfig(),
            new RunSource("prompt", "p"), null, false, PromptActors.Prompts.PromptSettings.Default, T0), new Dictionary<string, string>(),
            [], "source", 3, caller);

    [Theory]
    [InlineData(Given.NotStarted, null, true)]
    [InlineData(Given.Ready, ErrorCodes.InstanceExists, false)]
    [InlineData(Given.Executing, ErrorCodes.InstanceExists, false)]
    [InlineData(Given.Completed, ErrorCodes.InstanceExists, false)]
    [InlineData(Given.Expired, ErrorCodes.InstanceExpired, false)]
    public void Fork_into_this_id(Given given, string? code, bool proceeds)
    {
        var d = Decide(ForkFor(Owner, Owner), given);
        if (proceeds)
            Assert.IsType<Decision.Proceed>(d);
        else
            Assert.Equal(code, Code(d));
    }

    [Fact]
    public void Fork_into_an_id_another_scope_holds_answers_as_a_taken_id_and_into_another_scope_is_forbidden()
    {
        Assert.Equal(ErrorCodes.InstanceExists, Code(Decide(ForkFor(Stranger, Stranger), Given.Ready)));
        Assert.Equal(ErrorCodes.InstanceExists, Code(Decide(ForkFor(Stranger, Stranger), Given.Expired)));
        var d = Assert.IsType<Decision.Refuse>(Decide(ForkFor(Stranger, Owner), Given.NotStarted));
        Assert.Equal(ErrorCodes.Forbidden, d.Rejected.Code);
        Assert.True(d.Passivate);
    }

    [Fact]
    public void Start_on_an_id_another_scope_holds_answers_exactly_like_ones_own()
    {
        var own = Assert.IsType<Decision.Refuse>(Decide(new StartInstance(Id, "p", Owner, Caller: Owner), Given.Ready));
        var foreign = Assert.IsType<Decision.Refuse>(Decide(new StartInstance(Id, "p", Stranger, Caller: Stranger), Given.Ready));
        Assert.Equal(own.Rejected, foreign.Rejected);
        var expiredForeign = Assert.IsType<Decision.Refuse>(Decide(new StartInstance(Id, "p", Stranger, Caller: Stranger), Given.Expired));
        Assert.Equal(ErrorCodes.InstanceExists, expiredForeign.Rejected.Code); // no hint that the other instance expired
    }

    [Fact]
    public void Start_for_another_scope_than_the_callers_is_forbidden()
    {
        var d = Assert.IsType<Decision.Refuse>(Decide(new StartInstance(Id, "p", Stranger, Caller: Owner), Given.NotStarted));
        Assert.Equal(ErrorCodes.Forbidden, d.Rejected.Code);
        Assert.True(d.Passivate);
    }

    [Fact]
    public void Start_with_bad_input_is_refused_before_anything_is_loaded()
    {
        var d = Decide(new StartInstance(Id, "p", Owner, new Dictionary<string, string> { ["bad name!"] = "x" }), Given.NotStarted);
        Assert.Equal(ErrorCodes.ValidationFailed, Code(d));
    }

    [Theory]
    [InlineData(Given.NotStarted, InstancePhase.Running, ErrorCodes.InstanceNotFound)]
    [InlineData(Given.Ready, InstancePhase.Running, null)]
    [InlineData(Given.Executing, InstancePhase.Running, ErrorCodes.InstanceBusy)]
    [InlineData(Given.Completed, InstancePhase.Running, null)]
    [InlineData(Given.CompletedNoChat, InstancePhase.Running, ErrorCodes.ChatNotAllowed)]
    [InlineData(Given.Expired, InstancePhase.Running, ErrorCodes.InstanceExpired)]
    [InlineData(Given.Completed, InstancePhase.HandingOff, ErrorCodes.InstanceBusy)]
    public void Execute(Given given, InstancePhase phase, string? code)
    {
        var d = Decide(new ExecuteMessage(Id, "next", Caller: Owner), given, phase);
        if (code is null)
            Assert.IsType<Decision.Proceed>(d);
        else
            Assert.Equal(code, Code(d));
    }

    [Fact]
    public void Execute_while_passivating_goes_back_to_the_shard_for_the_next_incarnation()
    {
        Assert.IsType<Decision.HandBack>(Decide(new ExecuteMessage(Id, "next"), Given.Completed, InstancePhase.Passivating));
        Assert.IsType<Decision.HandBack>(Decide(new CleanupInstance(Id), Given.Completed, InstancePhase.Passivating));
        Assert.IsType<Decision.HandBack>(Decide(new SubscribeReplyStream(Id), Given.Completed, InstancePhase.Passivating));
        // A read is answered by this incarnation: it holds the state.
        Assert.IsType<Decision.Proceed>(Decide(new GetInstance(Id), Given.Completed, InstancePhase.Passivating));
    }

    [Fact]
    public void A_repeated_request_is_answered_with_its_first_task_even_while_that_task_runs()
    {
        foreach (var given in new[] { Given.Executing, Given.Completed })
        {
            var answer = Assert.IsType<Decision.Answer>(Decide(new ExecuteMessage(Id, "hi", RequestId: "r1"), given));
            Assert.Equal(new MessageAccepted(Id, "t1", "run-1"), answer.Reply);
        }
    }

    [Fact]
    public void A_copy_that_arrives_long_after_its_caller_stopped_waiting_is_dropped_unless_its_request_is_remembered()
    {
        var now = T0.AddMinutes(2); // the decision's clock (see Decide)
        // Within its deadline and the grace after it: taken.
        Assert.IsType<Decision.Proceed>(Decide(new ExecuteMessage(Id, "more", RequestId: "r2", Deadline: now), Given.Completed));
        Assert.IsType<Decision.Proceed>(Decide(new ExecuteMessage(Id, "more", RequestId: "r2",
            Deadline: now - InstanceDecider.StaleCopyGrace), Given.Completed));
        // Later: dropped unanswered (nobody waits for it), whatever the state.
        foreach (var given in new[] { Given.Ready, Given.Executing, Given.Completed })
            Assert.Equal(new Decision.Ignore(), Decide(new ExecuteMessage(Id, "more", RequestId: "r2",
                Deadline: now - InstanceDecider.StaleCopyGrace - TimeSpan.FromSeconds(1)), given));
        // A remembered request is still answered with its task, however late.
        var answer = Assert.IsType<Decision.Answer>(Decide(new ExecuteMessage(Id, "hi", RequestId: "r1", Deadline: T0), Given.Completed));
        Assert.Equal(new MessageAccepted(Id, "t1", "run-1"), answer.Reply);
    }

    [Fact]
    public void Requests_are_remembered_for_five_minutes_of_submissions_and_at_least_the_last_32()
    {
        var state = State(Given.Ready);
        // 200 quick turns in one minute: all remembered (a late copy of any of them must not make a second task).
        for (var i = 0; i < 200; i++)
        {
            var at = T0.AddMilliseconds(300 * i);
            state.Apply(new MessageSubmitted($"t{i}", i == 0 ? "run-1" : null, "hi", "local", "local", at, RequestId: $"r{i}"));
            state.Apply(new ExecutionCompleted($"t{i}", "ok", new TokenUsage(1, 1), 0m, 1, 2, at.AddMilliseconds(100)));
        }
        Assert.Equal(200, state.RecentRequests.Count);
        Assert.IsType<Decision.Answer>(InstanceDecider.Decide(new ExecuteMessage(Id, "hi", RequestId: "r0"), state,
            new DecisionInputs(Id, InstancePhase.Running, new InstanceSettings(), T0.AddMinutes(1))));
        // Six minutes later, two more: the old ones are forgotten down to the last 32.
        var later = T0.AddMinutes(7);
        state.Apply(new MessageSubmitted("late1", null, "hi", "local", "local", later, RequestId: "late-r1"));
        Assert.Equal(InstanceState.RecentRequestsKept, state.RecentRequests.Count);
        Assert.Equal("late-r1", state.RecentRequests[^1].RequestId);
        // The snapshot keeps them, times included, so a recovered instance forgets the same ones.
        var restored = InstanceState.FromSnapshot(state.ToSnapshot());
        Assert.Equal(state.RecentRequests, restored.RecentRequests);
    }

    [Fact]
    public void A_follow_up_without_input_is_refused_once_a_turn_completed()
    {
        Assert.Equal(ErrorCodes.ValidationFailed, Code(Decide(new ExecuteMessage(Id), Given.Completed)));
        Assert.IsType<Decision.Proceed>(Decide(new ExecuteMessage(Id), Given.Ready)); // the first turn runs the prompt itself
    }

    [Fact]
    public void Variables_are_journaled_as_decided_and_bad_ones_change_nothing()
    {
        var persist = Assert.IsType<Decision.Persist>(Decide(
            new UpdateVariables(Id, new Dictionary<string, string> { ["name"] = "Ada" }, ["old"]), Given.Completed));
        var updated = Assert.IsType<VariablesUpdated>(Assert.Single(persist.Events));
        Assert.Equal("Ada", updated.Set["name"]);
        Assert.Equal(["old"], updated.Removed);
        Assert.Equal(T0.AddMinutes(2), updated.At);

        Assert.Equal(ErrorCodes.ValidationFailed, Code(Decide(
            new UpdateVariables(Id, new Dictionary<string, string> { ["bad name!"] = "x" }), Given.Ready)));
        var few = new InstanceSettings { MaxVariables = 1 };
        Assert.Equal(ErrorCodes.ValidationFailed, Code(Decide(
            new UpdateVariables(Id, new Dictionary<string, string> { ["a"] = "1", ["b"] = "2" }), Given.Ready, settings: few)));
    }

    [Theory]
    [InlineData(Given.Ready, typeof(Decision.Persist))]
    [InlineData(Given.Completed, typeof(Decision.Persist))]
    [InlineData(Given.UnsyncedCompleted, typeof(Decision.WaitForOutbox))]
    [InlineData(Given.Executing, typeof(Decision.Refuse))]
    [InlineData(Given.Expired, typeof(Decision.Refuse))]
    [InlineData(Given.NotStarted, typeof(Decision.Refuse))]
    public void Cleanup(Given given, Type expected)
    {
        var d = Decide(new CleanupInstance(Id, Owner), given);
        Assert.IsType(expected, d);
        if (d is Decision.Persist persist)
            Assert.IsType<InstanceReaped>(Assert.Single(persist.Events));
        if (given == Given.Executing)
            Assert.Equal(ErrorCodes.InstanceBusy, Code(d));
    }

    [Fact]
    public void Cancel_goes_on_only_while_a_task_runs()
    {
        Assert.IsType<Decision.Proceed>(Decide(new CancelExecution(Id), Given.Executing));
        var idle = Assert.IsType<Decision.Answer>(Decide(new CancelExecution(Id), Given.Completed));
        Assert.Equal(new CancelResult(Id, null, false), idle.Reply);
    }

    [Fact]
    public void Resuming_a_task_the_instance_does_not_know_is_refused()
    {
        Assert.Equal(ErrorCodes.TaskNotFound, Code(Decide(new SubscribeReplyStream(Id, ResumeTaskId: "nope"), Given.Completed)));
        Assert.IsType<Decision.Proceed>(Decide(new SubscribeReplyStream(Id, ResumeTaskId: "t1"), Given.Completed));
        Assert.IsType<Decision.Proceed>(Decide(new SubscribeReplyStream(Id), Given.Ready));
    }

    [Fact]
    public void Reap_only_takes_an_instance_still_completed_at_the_time_the_reaper_saw()
    {
        var at = T0.AddSeconds(1);
        var persist = Assert.IsType<Decision.Persist>(Decide(new ReapInstance(Id, at), Given.Completed, reapReference: at));
        Assert.IsType<InstanceReaped>(Assert.Single(persist.Events));
        // It moved on since (another completion time), is running, or still has rows to write: left alone.
        Assert.IsType<Decision.Ignore>(Decide(new ReapInstance(Id, at.AddSeconds(-1)), Given.Completed, reapReference: at));
        Assert.IsType<Decision.Ignore>(Decide(new ReapInstance(Id, at), Given.Executing, reapReference: at));
        Assert.IsType<Decision.Ignore>(Decide(new ReapInstance(Id, at), Given.UnsyncedCompleted, reapReference: at));
        // Over the node's limit, a chat instance only leaves memory: its journal stays for the next message.
        Assert.IsType<Decision.LeaveMemory>(Decide(new ReapInstance(Id, at, OverLimit: true), Given.Completed, reapReference: at));
        var ignored = Assert.IsType<Decision.Ignore>(Decide(new ReapInstance(Id, at), Given.Expired));
        Assert.True(ignored.Passivate);
        Assert.False(Assert.IsType<Decision.Ignore>(Decide(new ReapInstance(Id, at), Given.Expired, InstancePhase.Reaping)).Passivate);
    }

    [Fact]
    public void A_check_of_a_task_is_answered_unknown_unless_it_runs_here_or_its_row_is_still_owed()
    {
        Assert.IsType<Decision.Ignore>(Decide(new CheckTask(Id, "t1"), Given.Executing));
        Assert.IsType<Decision.Proceed>(Decide(new CheckTask(Id, "t1"), Given.UnsyncedCompleted));
        var unknown = Assert.IsType<Decision.Answer>(Decide(new CheckTask(Id, "t1"), Given.Completed));
        Assert.Equal(new TaskUnknown(Id, "t1"), unknown.Reply);
        Assert.True(Assert.IsType<Decision.Answer>(Decide(new CheckTask(Id, "t9"), Given.NotStarted)).Passivate);
    }

    [Theory]
    [InlineData(Given.NotStarted, ErrorCodes.InstanceNotFound)]
    [InlineData(Given.Expired, ErrorCodes.InstanceExpired)]
    [InlineData(Given.Ready, null)]
    [InlineData(Given.Executing, null)] // the running task's final row is not owed yet
    [InlineData(Given.Completed, null)]
    [InlineData(Given.UnsyncedCompleted, "wait")]
    public void A_run_read_is_answered_at_once_unless_the_outbox_owes_rows(Given given, string? outcome)
    {
        var d = Decide(new AwaitRunRows(Id, Owner), given);
        switch (outcome)
        {
            case null:
                Assert.Equal(new RunRowsWritten(Id, true), Assert.IsType<Decision.Answer>(d).Reply);
                break;
            case "wait":
                Assert.IsType<Decision.WaitForOutbox>(d);
                break;
            default:
                Assert.Equal(outcome, Code(d));
                break;
        }
    }

    [Theory]
    [InlineData("inst-1.0123456789abcdef", "inst-1")]
    [InlineData("a.b.0123456789abcdef", "a.b")]
    [InlineData("0123456789abcdef0123456789abcdef", null)] // a run id of before: no instance in it
    [InlineData("inst-1.0123456789ABCDEF", null)]
    [InlineData(".0123456789abcdef", null)]
    [InlineData("inst-1.short", null)]
    [InlineData("inst-1.0123456789abcdef0123456789abcdef", null)]
    public void A_run_id_names_the_instance_that_minted_it(string runId, string? instanceId) =>
        Assert.Equal(instanceId, PromptActors.Runs.RunIds.InstanceOf(runId));

    [Fact]
    public void Minted_run_ids_round_trip_and_stay_valid_ids()
    {
        var id = PromptActors.Runs.RunIds.Mint("inst-1");
        Assert.Equal("inst-1", PromptActors.Runs.RunIds.InstanceOf(id));
        var longId = new string('i', 128);
        var plain = PromptActors.Runs.RunIds.Mint(longId);
        Assert.True(PromptActors.Prompts.PromptValidation.IsValidId(plain));
        Assert.Null(PromptActors.Runs.RunIds.InstanceOf(plain));
        Assert.True(PromptActors.Prompts.PromptValidation.IsValidId(PromptActors.Runs.RunIds.Mint(new string('i', 111))));
        Assert.Equal(new string('i', 111), PromptActors.Runs.RunIds.InstanceOf(PromptActors.Runs.RunIds.Mint(new string('i', 111))));
    }

    [Theory]
    [InlineData(Given.Ready, true)]
    [InlineData(Given.Executing, false)]
    [InlineData(Given.Completed, true)]
    [InlineData(Given.UnsyncedCompleted, false)]
    public void The_view_says_whether_the_run_rows_are_written(Given given, bool synced) =>
        Assert.Equal(synced, State(given).RunRowsWritten);

    [Fact]
    public void A_turn_found_in_a_model_call_on_recovery_ends_interrupted_and_nothing_else_is_touched()
    {
        var state = State(Given.Executing);
        Assert.IsType<ModelCallStep>(state.Current!.ActiveStep);
        var failed = Assert.IsType<ExecutionFailed>(InstanceDecider.Recover(state, T0.AddSeconds(5)));
        Assert.Equal("t1", failed.TaskId);
        Assert.Equal(ErrorCodes.Interrupted, failed.Code);
        Assert.Equal(5000, failed.TotalTimeMs);
        foreach (var given in new[] { Given.NotStarted, Given.Ready, Given.Completed, Given.Expired })
            Assert.Null(InstanceDecider.Recover(State(given), T0));
    }

    [Fact]
    public void Deciding_changes_nothing_in_the_state()
    {
        var state = State(Given.Completed);
        var before = state.ToSnapshot();
        InstanceDecider.Decide(new UpdateVariables(Id, new Dictionary<string, string> { ["a"] = "b" }), state,
            new DecisionInputs(Id, InstancePhase.Running, new InstanceSettings(), T0));
        InstanceDecider.Decide(new CleanupInstance(Id), state, new DecisionInputs(Id, InstancePhase.Running, new InstanceSettings(), T0));
        Assert.Equal(System.Text.Json.JsonSerializer.Serialize(before), System.Text.Json.JsonSerializer.Serialize(state.ToSnapshot()));
    }
}
