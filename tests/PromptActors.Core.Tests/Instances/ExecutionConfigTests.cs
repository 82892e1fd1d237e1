using PromptActors.Instances;
using PromptActors.Runs;
using PromptActors.Testing;
using PromptActors.Tests.Support;
using Xunit.Abstractions;
using PromptActors.Streaming;

namespace PromptActors.Tests.Instances;

/// <summary>Each of the five execution-config flags on and off (ORIGINAL_DESIGN executionConfig).</summary>
public sealed class ExecutionConfigTests(ITestOutputHelper output) : EngineTestKit(output)
{
    [Fact]
    public async Task AutoRun_on_executes_the_prompt_on_start()
    {
        await SavePromptAsync("analyzer", "Analyze: {{text}}");
        var view = await StartAsync("analyzer", new ExecutionConfig(AutoRun: true),
            new Dictionary<string, string> { ["text"] = "hello" });

        Assert.NotNull(view.Execution.CurrentTaskId);
        Assert.Contains(view.Status, new[] { InstanceStatus.Executing, InstanceStatus.Streaming });
        Assert.IsType<ReplyCompleted>(await Engine.WaitForReplyAsync(view.InstanceId));
        Assert.Equal("system: Analyze: hello", Text(Assert.Single(Model.Requests)));
    }

    [Fact]
    public async Task AutoRun_off_waits_for_the_first_message()
    {
        await SavePromptAsync("analyzer", "Analyze: {{text}}");
        var view = await StartAsync("analyzer", new ExecutionConfig(AutoRun: false),
            new Dictionary<string, string> { ["text"] = "hello" });

        Assert.Equal(InstanceStatus.Ready, view.Status);
        Assert.Null(view.Execution.CurrentTaskId);
        Assert.Equal(0, view.RunTracking.TaskCount);
        Assert.Empty(Model.Requests);
    }

    [Fact]
    public async Task AutoRun_with_missing_variables_refuses_the_start_and_creates_nothing()
    {
        await SavePromptAsync("analyzer", "Analyze: {{text}} for {{audience}}");
        var error = await Refused<MissingVariablesException>(() => StartAsync("analyzer", new ExecutionConfig(AutoRun: true), instanceId: "i-missing"));

        Assert.Equal(new[] { "audience", "text" }, error.Missing);
        Assert.Empty(Model.Requests);
        await Refused<InstanceNotFoundException>(() => Engine.GetInstanceAsync("i-missing"));
    }

    [Fact]
    public async Task AllowChat_on_accepts_follow_up_messages()
    {
        await SavePromptAsync("chat", "You chat.", "Hi");
        var view = await StartAsync("chat", new ExecutionConfig(AllowChat: true));
        Model.Enqueue(ScriptedReply.Text("first"), ScriptedReply.Text("second"));

        await SendAsync(view.InstanceId);
        var second = Assert.IsType<ReplyCompleted>(await SendAsync(view.InstanceId, "And then?"));

        Assert.Equal("second", second.Text);
        Assert.Equal("system: You chat.\nuser: Hi\nassistant: first\nuser: And then?", Text(Model.Requests[1]));
        var after = await Engine.GetInstanceAsync(view.InstanceId);
        Assert.Equal(new[] { "first", "And then?", "second" }, after.Conversation.Select(m => m.Content));
    }

    [Fact]
    public async Task AllowChat_off_refuses_a_follow_up_with_chat_not_allowed()
    {
        await SavePromptAsync("oneshot", "Summarize.", "Text");
        var view = await StartAsync("oneshot", new ExecutionConfig(AllowChat: false));
        await SendAsync(view.InstanceId);

        await Refused<ChatNotAllowedException>(() => Engine.ExecuteMessageAsync(view.InstanceId, "more"));

        var after = await Engine.GetInstanceAsync(view.InstanceId);
        Assert.Single(after.Conversation);
        Assert.Equal(1, after.RunTracking.TaskCount);
        Assert.Single(Model.Requests);
    }

    [Fact]
    public async Task ShowVariables_on_exposes_merged_values_with_provenance()
    {
        await Engine.SetScopeVariablesAsync(PromptActors.Variables.ScopeKind.Org, "o1", new Dictionary<string, string> { ["org_name"] = "Acme" });
        await SavePromptAsync("show", "{{org_name}} {{city}} {{what}}", defaults: [new("city", "Las Vegas"), new("what", "Hotels")]);
        var view = await StartAsync("show", new ExecutionConfig(ShowVariables: true),
            new Dictionary<string, string> { ["city"] = "Paris" });

        var vars = Assert.IsType<VariablesView>(view.Variables);
        Assert.Equal("Paris", vars.Merged["city"]);
        Assert.Equal(PromptActors.Variables.VariableSource.UserProvided, vars.Provenance["city"]);
        Assert.Equal("Hotels", vars.Merged["what"]);
        Assert.Equal(PromptActors.Variables.VariableSource.PromptDefault, vars.Provenance["what"]);
        Assert.Equal("Acme", vars.Merged["org_name"]);
        Assert.Equal(PromptActors.Variables.VariableSource.OrgScope, vars.Provenance["org_name"]);
        Assert.Equal(view.InstanceId, vars.Merged["instance_id"]);
        Assert.Equal(PromptActors.Variables.VariableSource.Computed, vars.Provenance["instance_id"]);
    }

    [Fact]
    public async Task ShowVariables_off_hides_variable_values()
    {
        await SavePromptAsync("hide", "{{city}}", defaults: [new("city", "Las Vegas")]);
        var view = await StartAsync("hide", new ExecutionConfig(ShowVariables: false));
        Assert.Null(view.Variables);
        Assert.Null((await Engine.GetInstanceAsync(view.InstanceId)).Variables);
    }

    [Fact]
    public async Task ApplyVariables_on_replaces_placeholders_in_template_and_user_messages()
    {
        await SavePromptAsync("apply", "Advise on {{city}}.", "Tell me about {{what}}.", [new("city", "Las Vegas"), new("what", "Hotels")]);
        var view = await StartAsync("apply", new ExecutionConfig(ApplyVariables: true), new Dictionary<string, string> { ["city"] = "Paris" });
        await SendAsync(view.InstanceId);
        await SendAsync(view.InstanceId, "And {{city}} museums?");

        Assert.Equal("system: Advise on Paris.\nuser: Tell me about Hotels.", Text(Model.Requests[0]));
        Assert.EndsWith("user: And Paris museums?", Text(Model.Requests[1]));
    }

    [Fact]
    public async Task ApplyVariables_off_sends_text_untouched_even_with_missing_variables()
    {
        await SavePromptAsync("raw", "Advise on {{city}}.", "Tell me about {{nothing_defines_this}}.");
        var view = await StartAsync("raw", new ExecutionConfig(ApplyVariables: false), new Dictionary<string, string> { ["city"] = "Paris" });
        await SendAsync(view.InstanceId);

        Assert.Equal("system: Advise on {{city}}.\nuser: Tell me about {{nothing_defines_this}}.", Text(Model.Requests[0]));
    }

    [Fact]
    public async Task TrackInRuns_on_creates_a_run_on_the_first_message_and_records_every_task()
    {
        await SavePromptAsync("tracked", "You chat.", "Hi");
        var view = await StartAsync("tracked", new ExecutionConfig(TrackInRuns: true));
        Assert.Null(view.RunTracking.RunId);

        Model.Enqueue(ScriptedReply.Text("one") with { Usage = new(10, 1) }, ScriptedReply.Text("two") with { Usage = new(20, 2) });
        var first = await Engine.ExecuteMessageAsync(view.InstanceId);
        await Engine.WaitForReplyAsync(view.InstanceId);
        var second = await Engine.ExecuteMessageAsync(view.InstanceId, "again");
        await Engine.WaitForReplyAsync(view.InstanceId);

        Assert.NotNull(first.RunId);
        Assert.Equal(first.RunId, second.RunId);
        await AwaitAssertAsync(async () =>
        {
            var run = await Engine.GetRunAsync(first.RunId!);
            Assert.NotNull(run);
            Assert.Equal(2, run!.TaskCount);
            Assert.All(run.Tasks, t => Assert.Equal(RunTaskStatus.Completed, t.Status));
            Assert.Equal(33, run.TotalTokens);
            Assert.Equal(run.Tasks.Sum(t => t.Cost), run.TotalCost);
            Assert.Equal(new[] { "one", "again", "two" }, run.Messages.Where(m => m.Role == "assistant" || m.Content == "again").Select(m => m.Content));
            Assert.Equal("u1", run.Info.UserId);
            Assert.Equal("tracked", run.Info.SourceId);
        });
        var after = await Engine.GetInstanceAsync(view.InstanceId);
        Assert.Equal(first.RunId, after.RunTracking.RunId);
        Assert.Equal(33, after.RunTracking.TotalTokens);
    }

    [Fact]
    public async Task TrackInRuns_off_writes_no_run()
    {
        await SavePromptAsync("untracked", "You chat.", "Hi");
        var view = await StartAsync("untracked", new ExecutionConfig(TrackInRuns: false));
        var accepted = await Engine.ExecuteMessageAsync(view.InstanceId);
        await Engine.WaitForReplyAsync(view.InstanceId);

        Assert.Null(accepted.RunId);
        Assert.Null((await Engine.GetInstanceAsync(view.InstanceId)).RunTracking.RunId);
        Assert.Empty(Runs.Tasks);
        Assert.Empty(await Engine.ListRunsAsync("u1"));
    }
}
