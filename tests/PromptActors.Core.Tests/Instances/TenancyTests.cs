using PromptActors.Engine;
using PromptActors.Instances;
using PromptActors.Testing;
using PromptActors.Tests.Support;
using PromptActors.Variables;
using Xunit.Abstractions;
using PromptActors.Streaming;

namespace PromptActors.Tests.Instances;

/// <summary>
/// Ownership checked inside the engine: a caller-bound engine (what an API key gets) sees only instances, runs and scope
/// variables of its whole scope. Every foreign id answers word for word as an unknown id, and changes nothing.
/// </summary>
public sealed class TenancyTests(ITestOutputHelper output) : EngineTestKit(output)
{
    public static TheoryData<string, string?, string?> Foreigners => new()
    {
        { "u1", "o2", "p1" },   // same user, another org
        { "u1", "o1", "p2" },   // same user and org, another project
        { "u1", null, null },   // the user alone (a key bound to no org)
        { "u2", "o1", "p1" },   // another user in the same org and project
    };

    private IPromptExecutionEngine Owner => Engine.ForCaller(U1);

    private async Task<(InstanceView View, MessageAccepted Turn)> OwnedConversationAsync()
    {
        await SavePromptAsync("chat", "You are terse. Secret {{secret}}.");
        await Engine.SetScopeVariablesAsync(ScopeKind.Org, "o1", new Dictionary<string, string> { ["secret"] = "org-o1-value" });
        var view = await Owner.StartInstanceAsync(new StartInstanceRequest("chat", U1,
            new Dictionary<string, string> { ["mine"] = "user-value" }, new ExecutionConfig(AutoRun: false, ShowVariables: true)));
        Model.Enqueue(ScriptedReply.Text("first reply"));
        var turn = await Owner.ExecuteMessageAsync(view.InstanceId, "hello");
        Assert.IsType<ReplyCompleted>(await Owner.WaitForReplyAsync(view.InstanceId));
        return (await Owner.GetInstanceAsync(view.InstanceId), turn);
    }

    /// <summary>What a caller gets for an id that does not exist, with the id swapped so the two can be compared.</summary>
    private static async Task<string> UnknownAnswer(Func<string, Task> call, string asId)
    {
        const string unknown = "no-such-instance";
        var e = await Assert.ThrowsAsync<InstanceNotFoundException>(() => call(unknown));
        return e.Message.Replace(unknown, asId, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Foreigners))]
    public async Task Another_scope_gets_instance_not_found_for_every_instance_command(string user, string? org, string? project)
    {
        var (view, _) = await OwnedConversationAsync();
        var id = view.InstanceId;
        var foreign = Engine.ForCaller(new InstanceScope(user, org, project));
        var calls = new Dictionary<string, Func<IPromptExecutionEngine, string, Task>>
        {
            ["get"] = (e, i) => e.GetInstanceAsync(i),
            ["execute"] = (e, i) => e.ExecuteMessageAsync(i, "let me in"),
            ["variables"] = (e, i) => e.UpdateVariablesAsync(i, new Dictionary<string, string> { ["mine"] = "theirs" }),
            ["cancel"] = (e, i) => e.CancelAsync(i),
            ["cleanup"] = (e, i) => e.CleanupAsync(i),
            ["stream"] = async (e, i) => { await foreach (var _ in e.StreamAsync(i)) { } },
            ["resume"] = async (e, i) => { await foreach (var _ in e.ResumeStreamAsync(i, view.Execution.LastTaskId!, 0)) { } },
            ["wait"] = (e, i) => e.WaitForReplyAsync(i),
        };
        foreach (var (name, call) in calls)
        {
            var expected = await UnknownAnswer(i => call(foreign, i), id);
            var refused = await Assert.ThrowsAsync<InstanceNotFoundException>(() => call(foreign, id));
            Assert.True(expected == refused.Message, $"{name}: '{refused.Message}' differs from an unknown id's '{expected}'");
        }

        var after = await Owner.GetInstanceAsync(id);
        Assert.Equal(view.Conversation, after.Conversation);
        Assert.Equal(view.Variables!.UserValues, after.Variables!.UserValues);
        Assert.Equal(InstanceStatus.Completed, after.Status);
        Assert.Single(Model.Requests); // the foreign message never reached the model
    }

    [Fact]
    public async Task The_owner_and_the_unrestricted_engine_see_the_instance()
    {
        var (view, _) = await OwnedConversationAsync();
        Assert.Equal("org-o1-value", view.Variables!.Merged["secret"]);
        // The unrestricted engine names it by its tenant's tagged id.
        var internalId = TenantIds.Internal(U1, view.InstanceId);
        Assert.Equal(internalId, (await Engine.GetInstanceAsync(internalId)).InstanceId);
        Assert.Equal(U1, view.Scope);
    }

    [Theory]
    [MemberData(nameof(Foreigners))]
    public async Task Another_scope_cannot_read_or_list_the_runs(string user, string? org, string? project)
    {
        var (view, turn) = await OwnedConversationAsync();
        var runId = turn.RunId!;
        await AwaitAssertAsync(async () => Assert.Single((await Owner.GetRunAsync(runId))!.Tasks, t => t.IsTerminal));
        var foreign = Engine.ForCaller(new InstanceScope(user, org, project));

        Assert.Null(await foreign.GetRunAsync(runId));
        if (user == U1.UserId)
            Assert.Empty(await foreign.ListRunsAsync(user));
        else
            await Refused<ForbiddenException>(() => foreign.ListRunsAsync(U1.UserId));
        Assert.Equal([runId], (await Owner.ListRunsAsync("u1")).Select(r => r.Info.RunId));
        Assert.Equal(view.InstanceId, (await Owner.GetRunAsync(runId))!.Info.InstanceId);
        // The unrestricted engine knows the instance by its tenant's tagged id.
        Assert.Equal(TenantIds.Internal(U1, view.InstanceId), (await Engine.GetRunAsync(runId))!.Info.InstanceId);
    }

    [Theory]
    [MemberData(nameof(Foreigners))]
    public async Task Another_scope_may_start_an_instance_of_the_same_id_and_learns_nothing_of_the_first(string user, string? org,
        string? project)
    {
        var (view, _) = await OwnedConversationAsync();
        var scope = new InstanceScope(user, org, project);
        var foreign = Engine.ForCaller(scope);

        // Ids are per tenant: the start succeeds, as for any id nobody uses, and makes the other tenant's own instance.
        var theirs = await foreign.StartInstanceAsync(new StartInstanceRequest("chat", scope, InstanceId: view.InstanceId));
        Assert.Equal(view.InstanceId, theirs.InstanceId);
        Assert.Equal(scope, theirs.Scope);
        Assert.Empty(theirs.Conversation);
        Assert.Empty((await foreign.GetInstanceAsync(view.InstanceId)).Conversation);
        Assert.Equal(view.Conversation, (await Owner.GetInstanceAsync(view.InstanceId)).Conversation);
        // A second start of one's own id is refused alike for both.
        var theirsAgain = await Assert.ThrowsAsync<PromptActorsException>(() =>
            foreign.StartInstanceAsync(new StartInstanceRequest("chat", scope, InstanceId: view.InstanceId)));
        var mineAgain = await Assert.ThrowsAsync<PromptActorsException>(() =>
            Owner.StartInstanceAsync(new StartInstanceRequest("chat", U1, InstanceId: view.InstanceId)));
        Assert.Equal(ErrorCodes.InstanceExists, theirsAgain.Code);
        Assert.Equal(mineAgain.Message, theirsAgain.Message);
    }

    [Fact]
    public async Task An_instance_a_caller_started_before_ids_were_per_tenant_is_still_its_own()
    {
        await SavePromptAsync("chat", "You are terse.");
        // Started under its bare id (as every caller's instance was before), in U1's scope.
        await Engine.StartInstanceAsync(new StartInstanceRequest("chat", U1, InstanceId: "legacy-1"));
        Assert.Equal("legacy-1", (await Owner.GetInstanceAsync("legacy-1")).InstanceId);
        Model.Enqueue(ScriptedReply.Text("still mine"));
        await Owner.ExecuteMessageAsync("legacy-1", "hello");
        Assert.IsType<ReplyCompleted>(await Owner.WaitForReplyAsync("legacy-1"));
        // Another scope still gets the unknown id's answer.
        var stranger = Engine.ForCaller(new InstanceScope("u1", "o2", "p1"));
        Assert.Equal(await UnknownAnswer(i => stranger.GetInstanceAsync(i), "legacy-1"),
            (await Assert.ThrowsAsync<InstanceNotFoundException>(() => stranger.GetInstanceAsync("legacy-1"))).Message);
    }

    [Fact]
    public async Task A_caller_starts_instances_only_in_its_own_scope()
    {
        await SavePromptAsync("chat", "You are terse.");
        await Refused<ForbiddenException>(() =>
            Owner.StartInstanceAsync(new StartInstanceRequest("chat", new InstanceScope("u1", "o2", "p1"), InstanceId: "elsewhere")));
        // nothing was created under that id
        await Refused<InstanceNotFoundException>(() => Engine.GetInstanceAsync("elsewhere"));
    }

    [Fact]
    public async Task Scope_variables_of_another_scope_are_not_found()
    {
        await Engine.SetScopeVariablesAsync(ScopeKind.Org, "o2", new Dictionary<string, string> { ["secret"] = "org-o2-value" });
        var e = await Assert.ThrowsAsync<PromptActorsException>(() => Owner.GetScopeVariablesAsync(ScopeKind.Org, "o2"));
        Assert.Equal(ErrorCodes.NotFound, e.Code);
        Assert.DoesNotContain("org-o2-value", e.Message, StringComparison.Ordinal);
        e = await Assert.ThrowsAsync<PromptActorsException>(() =>
            Owner.SetScopeVariablesAsync(ScopeKind.Org, "o2", new Dictionary<string, string> { ["secret"] = "overwritten" }));
        Assert.Equal(ErrorCodes.NotFound, e.Code);
        Assert.Equal("org-o2-value", (await Engine.GetScopeVariablesAsync(ScopeKind.Org, "o2"))["secret"]);

        await Owner.SetScopeVariablesAsync(ScopeKind.Project, "p1", new Dictionary<string, string> { ["x"] = "1" });
        Assert.Equal("1", (await Owner.GetScopeVariablesAsync(ScopeKind.Project, "p1"))["x"]);
    }

    [Fact]
    public void An_engine_bound_to_a_caller_cannot_be_rebound()
    {
        Assert.Same(Owner.ForCaller(U1).GetType(), Owner.GetType());
        Assert.Throws<InvalidOperationException>(() => Owner.ForCaller(new InstanceScope("u2")));
        Assert.Throws<ValidationFailedException>(() => Engine.ForCaller(new InstanceScope("bad id!")));
    }
}
