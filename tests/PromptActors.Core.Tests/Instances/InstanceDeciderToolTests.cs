using PromptActors.Instances;
using PromptActors.Models;
using PromptActors.Prompts;
using PromptActors.Variables;
using Xunit;

namespace PromptActors.Core.Tests.Instances;

/// <summary><see cref="InstanceDecider"/> and <see cref="InstanceState"/> for a turn in its tool calls.</summary>
public sealed class InstanceDeciderToolTests
{
    private const string Id = "inst-1";
    private static readonly DateTimeOffset T0 = new(2026, 12, 1, 10, 0, 0, TimeSpan.Zero);
    private static readonly InstanceScope Owner = new("u1", "o1", "p1");

    private static InstanceState Executing()
    {
        var state = new InstanceState();
        state.Apply(new InstanceStarted(Id, "p", 1, Owner, new Dictionary<string, string>(), new ExecutionConfig(), new RunSource("api", "x"),
            null, false, new PromptSettings(), T0));
        state.Apply(new MessageSubmitted("t1", "run-1", "hi", "local", "local", T0, RequestId: "r1"));
        return state;
    }

    private static InstanceState Completed()
    {
        var state = Executing();
        state.Apply(new ExecutionCompleted("t1", "hello", new TokenUsage(1, 1), 0m, 1, 2, T0.AddSeconds(1)));
        return state;
    }

    private static string Code(Decision d) => Assert.IsType<Decision.Refuse>(d).Rejected.Code;

    /// <summary>An executing turn whose model asked for three tools: c1 running, c2 waiting for approval, c3 refused at once.</summary>
    private static InstanceState InTools(Tools.ToolPolicy runningPolicy = Tools.ToolPolicy.AtMostOnce)
    {
        var state = Executing();
        state.Apply(new ToolCallsRequested("t1", 0, "", [
            new RequestedToolCall("c1", "a", "{}", ToolCallStatus.Running, runningPolicy),
            new RequestedToolCall("c2", "b", "{}", ToolCallStatus.AwaitingApproval, Tools.ToolPolicy.AtMostOnce),
            new RequestedToolCall("c3", "x", "{}", ToolCallStatus.Failed, Tools.ToolPolicy.AtMostOnce, "error: no such tool")],
            new TokenUsage(5, 1), 0.1m, 3, 4, T0.AddSeconds(1)));
        return state;
    }

    private static Decision DecideIn(InstanceState state, IInstanceCommand cmd, InstancePhase phase = InstancePhase.Running) =>
        InstanceDecider.Decide(cmd, state, new DecisionInputs(Id, phase, new InstanceSettings(), T0.AddMinutes(2)));

    [Fact]
    public void A_decision_on_a_waiting_call_is_journaled_once_and_every_other_decision_is_refused()
    {
        var state = InTools();
        var decided = Assert.IsType<ToolCallDecided>(Assert.Single(Assert.IsType<Decision.Persist>(
            DecideIn(state, new DecideToolCall(Id, "c2", false, "no", "key-1"))).Events));
        Assert.Equal(("t1", "c2", false, "no", "key-1"), (decided.TaskId, decided.CallId, decided.Approved, decided.Reason, decided.DecidedBy));
        Assert.Equal(ErrorCodes.AlreadyDecided, Code(DecideIn(state, new DecideToolCall(Id, "c1", true)))); // running, needs none
        Assert.Equal(ErrorCodes.AlreadyDecided, Code(DecideIn(state, new DecideToolCall(Id, "c3", true)))); // has its result
        Assert.Equal(ErrorCodes.ToolCallNotFound, Code(DecideIn(state, new DecideToolCall(Id, "c9", true))));
        Assert.Equal(ErrorCodes.ValidationFailed, Code(DecideIn(state, new DecideToolCall(Id, "c2", true, new string('r', 1001)))));
        Assert.IsType<Decision.HandBack>(DecideIn(state, new DecideToolCall(Id, "c2", true), InstancePhase.Passivating));

        state.Apply(decided);
        Assert.Equal(ErrorCodes.AlreadyDecided, Code(DecideIn(state, new DecideToolCall(Id, "c2", true))));
        Assert.Equal(ErrorCodes.ToolCallNotFound, Code(DecideIn(Completed(), new DecideToolCall(Id, "c2", true))));
    }

    [Fact]
    public void A_step_opens_the_next_model_call_once_every_call_has_its_result_and_the_conversation_keeps_them_in_order()
    {
        var state = InTools();
        Assert.Equal(InstanceStatus.Executing, state.Status); // c1 still runs
        state.Apply(new ToolCallFinished("t1", "c1", ToolCallStatus.Completed, "ok", 5, T0.AddSeconds(2)));
        Assert.Equal(InstanceStatus.AwaitingApproval, state.Status);
        Assert.IsType<ToolCallsStep>(state.Current!.ActiveStep);

        state.Apply(new ToolCallDecided("t1", "c2", false, null, null, T0.AddSeconds(3)));

        var next = Assert.IsType<ModelCallStep>(state.Current!.ActiveStep);
        Assert.Equal(1, next.Iteration);
        Assert.Equal(InstanceStatus.Executing, state.Status);
        Assert.Equal([MessageRole.User, MessageRole.Assistant, MessageRole.Tool, MessageRole.Tool, MessageRole.Tool],
            state.Conversation.Select(m => m.Role));
        Assert.Equal(["c3", "c1", "c2"], state.Conversation.Skip(2).Select(m => m.ToolCallId));
        Assert.StartsWith("rejected", state.Conversation[^1].Content);
        Assert.Equal(6, state.Current.EarlierUsage.TotalTokens);
    }

    [Theory]
    [InlineData(Tools.ToolPolicy.AtMostOnce)]
    [InlineData(Tools.ToolPolicy.Idempotent)]
    public void On_recovery_a_started_call_follows_its_policy_and_a_waiting_one_keeps_waiting(Tools.ToolPolicy policy)
    {
        var state = InTools(policy);

        Assert.Null(InstanceDecider.Recover(state, T0.AddSeconds(5))); // a turn in its tools is not interrupted
        var unknown = InstanceDecider.RecoverTools(state, T0.AddSeconds(5));
        var rerun = InstanceDecider.CallsToRerun(state);

        if (policy == Tools.ToolPolicy.AtMostOnce)
        {
            var finished = Assert.IsType<ToolCallFinished>(Assert.Single(unknown));
            Assert.Equal(("c1", ToolCallStatus.OutcomeUnknown), (finished.CallId, finished.Status));
            Assert.Empty(rerun);
        }
        else
        {
            Assert.Empty(unknown);
            Assert.Equal("c1", Assert.Single(rerun).CallId);
        }
        // A later model call is made again rather than interrupted.
        state.Apply(new ToolCallFinished("t1", "c1", ToolCallStatus.Completed, "ok", 5, T0.AddSeconds(2)));
        state.Apply(new ToolCallDecided("t1", "c2", true, null, null, T0.AddSeconds(3)));
        state.Apply(new ToolCallFinished("t1", "c2", ToolCallStatus.Completed, "ok", 5, T0.AddSeconds(4)));
        Assert.Null(InstanceDecider.Recover(state, T0.AddSeconds(5)));
    }
}
