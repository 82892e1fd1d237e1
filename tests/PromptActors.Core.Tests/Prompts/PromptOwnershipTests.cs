using PromptActors.Engine;
using PromptActors.Instances;
using PromptActors.Prompts;
using PromptActors.Testing;
using PromptActors.Tests.Support;
using PromptActors.Variables;
using Xunit.Abstractions;
using PromptActors.Streaming;

namespace PromptActors.Tests.Prompts;

/// <summary>Prompts belong to a scope: another tenant's prompt is not there for a caller, and two tenants may share an id.</summary>
public sealed class PromptOwnershipTests(ITestOutputHelper output) : EngineTestKit(output)
{
    private static readonly InstanceScope B = new("u2", "o2", "p2");

    private IPromptExecutionEngine A => Engine.ForCaller(U1);
    private IPromptExecutionEngine TenantB => Engine.ForCaller(B);

    private static PromptDefinition Definition(string id, string system) =>
        new(id, id, [new PromptMessage(MessageRole.System, system), new PromptMessage(MessageRole.User, "go")],
            Settings: new PromptSettings("scripted"));

    private async Task<string> RunAsync(IPromptExecutionEngine engine, InstanceScope scope, string promptId)
    {
        var view = await engine.StartInstanceAsync(new StartInstanceRequest(promptId, scope));
        await engine.ExecuteMessageAsync(view.InstanceId);
        Assert.IsType<ReplyCompleted>(await engine.WaitForReplyAsync(view.InstanceId));
        return Model.Requests[^1][0].Text;
    }

    [Fact]
    public async Task Another_tenant_neither_reads_nor_overwrites_a_prompt_and_may_have_its_own_of_the_same_id()
    {
        var mine = await A.SavePromptAsync(Definition("support-agent", "A's secret instructions"));
        Assert.Equal(PromptOwner.Project("p1"), mine.Owner);

        Assert.Null(await TenantB.GetPromptAsync("support-agent"));
        Assert.Null(await TenantB.GetPromptAsync("support-agent", 1));
        await Refused<PromptNotFoundException>(() => TenantB.StartInstanceAsync(new StartInstanceRequest("support-agent", B)));

        var theirs = await TenantB.SavePromptAsync(Definition("support-agent", "B's text"));
        Assert.Equal((1, PromptOwner.Project("p2")), (theirs.Version, theirs.Owner));
        Assert.Equal(mine, await A.GetPromptAsync("support-agent"));

        Assert.Equal("A's secret instructions", await RunAsync(A, U1, "support-agent"));
        Assert.Equal("B's text", await RunAsync(TenantB, B, "support-agent"));
    }

    [Fact]
    public async Task An_id_resolves_project_then_org_then_user_then_built_in()
    {
        await Engine.SavePromptAsync(Definition("x", "built-in"));
        Assert.Equal("built-in", await RunAsync(A, U1, "x"));
        await A.SavePromptAsync(Definition("x", "user's"), PromptOwner.User("u1"));
        Assert.Equal("user's", await RunAsync(A, U1, "x"));
        await A.SavePromptAsync(Definition("x", "org's"), PromptOwner.Org("o1"));
        Assert.Equal("org's", await RunAsync(A, U1, "x"));
        await A.SavePromptAsync(Definition("x", "project's"));
        Assert.Equal("project's", (await A.GetPromptAsync("x"))!.Messages[0].Content);

        // The same user in another org and project sees only its user scope and the built-ins.
        var elsewhere = new InstanceScope("u1", "o9", "p9");
        Assert.Equal("user's", (await Engine.ForCaller(elsewhere).GetPromptAsync("x"))!.Messages[0].Content);
        Assert.Equal("built-in", (await Engine.ForCaller(new InstanceScope("u3")).GetPromptAsync("x"))!.Messages[0].Content);
        Assert.Equal("built-in", (await Engine.GetPromptAsync("x"))!.Messages[0].Content);
    }

    [Fact]
    public async Task A_caller_saves_only_into_its_own_scopes()
    {
        var builtIn = await Engine.SavePromptAsync(Definition("shared", "built-in"));
        await Refused<ForbiddenException>(() => A.SavePromptAsync(Definition("shared", "hijack"), PromptOwner.BuiltIn));
        var foreign = await Assert.ThrowsAsync<PromptActorsException>(() =>
            A.SavePromptAsync(Definition("shared", "hijack"), PromptOwner.Project("p2")));
        Assert.Equal(ErrorCodes.NotFound, foreign.Code);
        Assert.Null(await TenantB.GetPromptAsync("shared", 2));
        Assert.Equal(builtIn, await TenantB.GetPromptAsync("shared"));
        Assert.Equal(PromptOwner.User("u3"), (await Engine.ForCaller(new InstanceScope("u3")).SavePromptAsync(Definition("mine", "m"))).Owner);
    }

    [Fact]
    public async Task An_instance_stays_on_the_owner_and_version_it_started_with()
    {
        await A.SavePromptAsync(Definition("pinned", "user v1"), PromptOwner.User("u1"));
        var view = await A.StartInstanceAsync(new StartInstanceRequest("pinned", U1));
        await A.ExecuteMessageAsync(view.InstanceId);
        await A.WaitForReplyAsync(view.InstanceId);

        // A closer scope now has the id, and the user's prompt has a newer version: neither moves the running conversation.
        await A.SavePromptAsync(Definition("pinned", "project v1"));
        await A.SavePromptAsync(Definition("pinned", "user v2"), PromptOwner.User("u1"));
        await StopEntityAsync(PromptActors.Instances.TenantIds.Internal(U1, view.InstanceId));
        await A.ExecuteMessageAsync(view.InstanceId, "and again");
        Assert.IsType<ReplyCompleted>(await A.WaitForReplyAsync(view.InstanceId));

        Assert.Equal("user v1", Model.Requests[^1][0].Text);
        Assert.Equal("project v1", await RunAsync(A, U1, "pinned"));
    }
}
