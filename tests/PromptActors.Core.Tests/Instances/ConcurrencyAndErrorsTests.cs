using PromptActors.Instances;
using PromptActors.Prompts;
using PromptActors.Runs;
using PromptActors.Testing;
using PromptActors.Tests.Support;
using Xunit.Abstractions;
using PromptActors.Streaming;

namespace PromptActors.Tests.Instances;

public sealed class ConcurrencyAndErrorsTests(ITestOutputHelper output)
    : EngineTestKit(output, o =>
    {
        o.Instances.MaxInputBytes = 1024;
        o.Instances.MaxRenderedChars = 64 * 1024;
    })
{
    [Fact]
    public async Task Second_message_while_executing_is_refused_with_instance_busy()
    {
        await SavePromptAsync("slow", "You are slow.", "Hi");
        var gate = new TaskCompletionSource();
        Model.Enqueue(ScriptedReply.Text("done") with { Gate = gate.Task });
        var view = await StartAsync("slow");
        await Engine.ExecuteMessageAsync(view.InstanceId);

        await Refused<InstanceBusyException>(() => Engine.ExecuteMessageAsync(view.InstanceId, "me too"));

        gate.SetResult();
        Assert.IsType<ReplyCompleted>(await Engine.WaitForReplyAsync(view.InstanceId));
        var after = await Engine.GetInstanceAsync(view.InstanceId);
        Assert.Equal(1, after.RunTracking.TaskCount);
        Assert.DoesNotContain(after.Conversation, m => m.Content == "me too");
    }

    [Fact]
    public async Task Three_instances_of_one_prompt_run_concurrently_and_stay_independent()
    {
        await SavePromptAsync("advisor", "Advise on {{city}}.", "Go");
        var gates = Enumerable.Range(0, 3).Select(_ => new TaskCompletionSource()).ToArray();
        var cities = new[] { "Paris", "Rome", "Oslo" };
        var views = new List<InstanceView>();
        foreach (var city in cities)
            views.Add(await StartAsync("advisor", variables: new Dictionary<string, string> { ["city"] = city }));

        // All three hold the model at once; each must have sent its own city.
        Model.Fallback = ScriptedReply.Text("reply") with { Gate = Task.WhenAll(gates.Select(g => g.Task)) };
        foreach (var v in views)
            await Engine.ExecuteMessageAsync(v.InstanceId);
        foreach (var v in views)
            Assert.Contains((await Engine.GetInstanceAsync(v.InstanceId)).Status, new[] { InstanceStatus.Executing, InstanceStatus.Streaming });
        foreach (var g in gates)
            g.SetResult();
        foreach (var v in views)
            await Engine.WaitForReplyAsync(v.InstanceId);

        Assert.Equal(3, Model.Requests.Count);
        Assert.Equal(cities.Order(), Model.Requests.Select(r => r[0].Text.Replace("Advise on ", "").TrimEnd('.')).Order());
        await Engine.UpdateVariablesAsync(views[0].InstanceId, new Dictionary<string, string> { ["city"] = "Lima" });
        await SendAsync(views[1].InstanceId, "more");

        var a = await Engine.GetInstanceAsync(views[0].InstanceId);
        var b = await Engine.GetInstanceAsync(views[1].InstanceId);
        var c = await Engine.GetInstanceAsync(views[2].InstanceId);
        Assert.Equal("Lima", a.Variables!.Merged["city"]);
        Assert.Equal("Rome", b.Variables!.Merged["city"]);
        Assert.Equal("Oslo", c.Variables!.Merged["city"]);
        Assert.Equal(1, a.RunTracking.TaskCount);
        Assert.Equal(2, b.RunTracking.TaskCount);
        Assert.Equal(3, b.Conversation.Count);
        Assert.Single(c.Conversation);
        Assert.NotEqual(a.RunTracking.RunId, b.RunTracking.RunId);
        Assert.Equal(a.RunTracking.TotalTokens, c.RunTracking.TotalTokens);
    }

    [Fact]
    public async Task Unknown_prompt_is_refused_with_prompt_not_found()
    {
        await Refused<PromptNotFoundException>(() => StartAsync("no-such-prompt", instanceId: "i1"));
        await Refused<InstanceNotFoundException>(() => Engine.GetInstanceAsync("i1"));
    }

    [Fact]
    public async Task Unknown_prompt_version_is_refused_with_prompt_not_found()
    {
        await SavePromptAsync("p", "x");
        await Refused<PromptNotFoundException>(() => Engine.StartInstanceAsync(
            new PromptActors.Engine.StartInstanceRequest("p", U1, PromptVersion: 7)));
    }

    [Fact]
    public async Task Unknown_instance_is_refused_with_instance_not_found()
    {
        await Refused<InstanceNotFoundException>(() => Engine.GetInstanceAsync("nobody"));
        await Refused<InstanceNotFoundException>(() => Engine.ExecuteMessageAsync("nobody", "hi"));
        await Refused<InstanceNotFoundException>(() => Engine.UpdateVariablesAsync("nobody", new Dictionary<string, string> { ["a"] = "b" }));
        await Refused<InstanceNotFoundException>(() => Engine.CancelAsync("nobody"));
        await Refused<InstanceNotFoundException>(() => Engine.CleanupAsync("nobody"));
        await Assert.ThrowsAsync<InstanceNotFoundException>(async () =>
        {
            await foreach (var _ in Engine.StreamAsync("nobody"))
            {
            }
        });
    }

    [Fact]
    public async Task Starting_an_existing_instance_id_is_refused_and_changes_nothing()
    {
        await SavePromptAsync("p", "{{a}}", defaults: [new("a", "1")]);
        await StartAsync("p", instanceId: "dup", variables: new Dictionary<string, string> { ["a"] = "first" });
        var error = await Refused<PromptActorsException>(() => StartAsync("p", instanceId: "dup", variables: new Dictionary<string, string> { ["a"] = "second" }));
        Assert.Equal(ErrorCodes.InstanceExists, error.Code);
        Assert.Equal("first", (await Engine.GetInstanceAsync("dup")).Variables!.UserValues["a"]);
    }

    [Fact]
    public async Task A_turn_that_variables_would_fill_past_the_limit_is_refused_and_changes_nothing()
    {
        await SavePromptAsync("p", "You chat.", "Hi");
        var view = await StartAsync("p");
        await SendAsync(view.InstanceId);
        await Engine.UpdateVariablesAsync(view.InstanceId, new Dictionary<string, string> { ["a"] = new string('v', 1000) });
        var before = await Engine.GetInstanceAsync(view.InstanceId);

        // 500 bytes of input, within MaxInputBytes, that would render to 100,000 characters.
        var error = await Refused<ValidationFailedException>(() =>
            Engine.ExecuteMessageAsync(view.InstanceId, string.Concat(Enumerable.Repeat("{{a}}", 100))));

        Assert.Contains("MaxRenderedChars", error.Message);
        var after = await Engine.GetInstanceAsync(view.InstanceId);
        Assert.Equal(before.Conversation.Count, after.Conversation.Count);
        Assert.Equal(before.RunTracking.TaskCount, after.RunTracking.TaskCount);
        Assert.Single(Model.Requests);
        // 50,000 characters fit, and the instance goes on
        await SendAsync(view.InstanceId, string.Concat(Enumerable.Repeat("{{a}}", 50)));
        Assert.Equal(2, Model.Requests.Count);
    }

    [Fact]
    public async Task An_auto_run_start_that_would_render_past_the_limit_is_refused_and_leaves_no_instance()
    {
        await SavePromptAsync("big", "You chat.", string.Concat(Enumerable.Repeat("{{a}}", 100)));

        await Refused<ValidationFailedException>(() => StartAsync("big", new ExecutionConfig(AutoRun: true),
            new Dictionary<string, string> { ["a"] = new string('v', 1000) }, instanceId: "too-big"));

        await Refused<InstanceNotFoundException>(() => Engine.GetInstanceAsync("too-big"));
        Assert.Empty(Model.Requests);
    }

    [Fact]
    public async Task Empty_and_oversized_input_are_refused_and_change_nothing()
    {
        await SavePromptAsync("p", "You chat.", "Hi");
        var view = await StartAsync("p");
        await SendAsync(view.InstanceId);
        var before = await Engine.GetInstanceAsync(view.InstanceId);

        await Refused<ValidationFailedException>(() => Engine.ExecuteMessageAsync(view.InstanceId, ""));
        await Refused<ValidationFailedException>(() => Engine.ExecuteMessageAsync(view.InstanceId, "   "));
        await Refused<ValidationFailedException>(() => Engine.ExecuteMessageAsync(view.InstanceId, null)); // follow-ups need text
        await Refused<ValidationFailedException>(() => Engine.ExecuteMessageAsync(view.InstanceId, new string('x', 1025)));
        await Refused<ValidationFailedException>(() => Engine.UpdateVariablesAsync(view.InstanceId,
            new Dictionary<string, string> { ["big"] = new string('é', 513) })); // 1026 bytes in UTF-8

        var after = await Engine.GetInstanceAsync(view.InstanceId);
        Assert.Equal(before.Conversation.Count, after.Conversation.Count);
        Assert.Equal(before.RunTracking.TaskCount, after.RunTracking.TaskCount);
        Assert.Equal(before.Variables!.UserValues, after.Variables!.UserValues);
        Assert.Single(Model.Requests);
        // exactly at the limit is fine
        await SendAsync(view.InstanceId, new string('x', 1024));
    }

    [Theory]
    [InlineData("1abc")]
    [InlineData("has space")]
    [InlineData("")]
    [InlineData("brace{")]
    [InlineData("dollar$")]
    public async Task Bad_variable_names_are_refused_and_change_nothing(string name)
    {
        await SavePromptAsync("p", "{{ok}}", defaults: [new("ok", "1")]);
        await Refused<ValidationFailedException>(() => StartAsync("p", instanceId: "bad-start", variables: new Dictionary<string, string> { [name] = "v" }));
        await Refused<InstanceNotFoundException>(() => Engine.GetInstanceAsync("bad-start"));

        var view = await StartAsync("p", variables: new Dictionary<string, string> { ["ok"] = "2" });
        await Refused<ValidationFailedException>(() => Engine.UpdateVariablesAsync(view.InstanceId,
            new Dictionary<string, string> { ["ok"] = "3", [name] = "v" }));
        Assert.Equal("2", (await Engine.GetInstanceAsync(view.InstanceId)).Variables!.UserValues["ok"]);
    }

    [Fact]
    public async Task Bad_start_requests_are_refused_with_validation_failed()
    {
        await SavePromptAsync("p", "x");
        await Refused<ValidationFailedException>(() => Engine.StartInstanceAsync(new PromptActors.Engine.StartInstanceRequest("p", new PromptActors.Variables.InstanceScope(""))));
        await Refused<ValidationFailedException>(() => Engine.StartInstanceAsync(new PromptActors.Engine.StartInstanceRequest("bad id!", U1)));
        await Refused<ValidationFailedException>(() => Engine.StartInstanceAsync(new PromptActors.Engine.StartInstanceRequest("p", U1, InstanceId: "white space")));
        await Refused<ValidationFailedException>(() => Engine.StartInstanceAsync(new PromptActors.Engine.StartInstanceRequest("p", U1, PromptVersion: 0)));
        await Refused<ValidationFailedException>(() => Engine.StartInstanceAsync(new PromptActors.Engine.StartInstanceRequest("p", U1, RunName: new string('n', 300))));
    }

    [Fact]
    public async Task Prompt_with_unknown_model_is_refused_at_start()
    {
        await SavePromptAsync("p", "x", model: "gpt-nope");
        var error = await Refused<ValidationFailedException>(() => StartAsync("p"));
        Assert.Contains("gpt-nope", error.Message);
    }

    [Fact]
    public async Task Missing_variables_fail_with_every_name_and_change_nothing()
    {
        await SavePromptAsync("p", "Hello {{first}} and {{second}}.", "About {{third}} and {{first}}");
        var view = await StartAsync("p");

        var error = await Refused<MissingVariablesException>(() => Engine.ExecuteMessageAsync(view.InstanceId, "and {{fourth}}"));

        // The prompt's own placeholders count; the one in the user's input is text (see the next test).
        Assert.Equal(new[] { "first", "second", "third" }, error.Missing);
        var after = await Engine.GetInstanceAsync(view.InstanceId);
        Assert.Equal(InstanceStatus.Ready, after.Status);
        Assert.Empty(after.Conversation);
        Assert.Equal(0, after.RunTracking.TaskCount);
        Assert.Null(after.RunTracking.RunId);
        Assert.Empty(Model.Requests);
        Assert.Empty(Runs.Tasks);
    }

    [Fact]
    public async Task A_placeholder_in_chat_input_that_no_layer_defines_stays_literal_and_a_defined_one_is_filled()
    {
        await SavePromptAsync("chat", "You explain {{topic}}.");
        var view = await StartAsync("chat", variables: new Dictionary<string, string> { ["topic"] = "templates" });
        Model.Enqueue(ScriptedReply.Text("first"));
        await SendAsync(view.InstanceId);
        Model.Enqueue(ScriptedReply.Text("second"));

        Assert.IsType<ReplyCompleted>(await SendAsync(view.InstanceId, "what does {{foo}} mean in {{topic}}?"));

        Assert.Equal("system: You explain templates.\nassistant: first\nuser: what does {{foo}} mean in templates?",
            Text(Model.Requests[1]));
        var after = await Engine.GetInstanceAsync(view.InstanceId);
        Assert.Equal("what does {{foo}} mean in {{topic}}?", after.Conversation.Single(m => m.Role == MessageRole.User).Content); // stored as written
    }

    [Fact]
    public async Task Missing_policy_keep_and_empty_are_selectable_per_prompt()
    {
        await SavePromptAsync("keep", "Hi {{nobody}}!", policy: PromptActors.Variables.MissingVariablePolicy.Keep);
        await SavePromptAsync("empty", "Hi {{nobody}}!", policy: PromptActors.Variables.MissingVariablePolicy.Empty);
        await SendAsync((await StartAsync("keep")).InstanceId);
        await SendAsync((await StartAsync("empty")).InstanceId);

        Assert.Equal("system: Hi {{nobody}}!", Text(Model.Requests[0]));
        Assert.Equal("system: Hi !", Text(Model.Requests[1]));
    }

    [Fact]
    public async Task Provider_failure_ends_the_task_failed_and_the_instance_can_retry()
    {
        await SavePromptAsync("p", "x", "Hi");
        var view = await StartAsync("p");
        Model.Enqueue(ScriptedReply.Text("partial", " text", " never") with { FailAfterChunks = 2, FailWith = new HttpRequestException("connection reset") });

        var failed = Assert.IsType<ReplyFailed>(await SendAsync(view.InstanceId));
        Assert.Equal(ErrorCodes.ProviderError, failed.Code);
        Assert.Equal("partial text", failed.PartialText);
        Assert.Contains("connection reset", failed.Detail);

        var after = await Engine.GetInstanceAsync(view.InstanceId);
        Assert.Equal(InstanceStatus.Error, after.Status);
        Assert.Equal(ErrorCodes.ProviderError, after.Execution.LastError!.Code);
        Assert.Empty(after.Conversation);
        await AwaitAssertAsync(() =>
        {
            var row = Assert.Single(Runs.Tasks);
            Assert.Equal(RunTaskStatus.Failed, row.Status);
            Assert.Equal("partial text", row.ResponseText);
            return Task.CompletedTask;
        });

        Assert.IsType<ReplyCompleted>(await SendAsync(view.InstanceId));
        Assert.Equal(InstanceStatus.Completed, (await Engine.GetInstanceAsync(view.InstanceId)).Status);
    }

    [Fact]
    public async Task Cancel_stops_the_provider_keeps_the_partial_text_and_leaves_the_instance_ready()
    {
        await SavePromptAsync("p", "x", "Hi");
        var view = await StartAsync("p");
        // A slow model: the first chunk streams, then it goes quiet until the cancel reaches it.
        Model.Enqueue(ScriptedReply.Text("a", "b") with { Usage = null }, ScriptedReply.Text("ok"));
        Model.Enqueue(ScriptedReply.Text("x", "y", "z") with { StallAfterChunks = 1, Usage = null });
        await SendAsync(view.InstanceId); // "ab"
        await SendAsync(view.InstanceId, "again"); // "ok"

        await Engine.ExecuteMessageAsync(view.InstanceId, "slow one");
        await AwaitAssertAsync(async () => Assert.Equal("x", (await Engine.GetInstanceAsync(view.InstanceId)).StreamingText));
        var result = await Engine.CancelAsync(view.InstanceId);

        Assert.True(result.Cancelled);
        Assert.Equal(1, Model.Cancellations);
        var after = await Engine.GetInstanceAsync(view.InstanceId);
        Assert.Equal(InstanceStatus.Ready, after.Status);
        Assert.Equal(ErrorCodes.Cancelled, after.Execution.LastError!.Code);
        Assert.DoesNotContain(after.Conversation, m => m.Content == "slow one");
        await AwaitAssertAsync(() =>
        {
            var row = Runs.Tasks.Single(t => t.TaskId == result.TaskId);
            Assert.Equal(RunTaskStatus.Cancelled, row.Status);
            Assert.Equal("x", row.ResponseText);
            Assert.True(row.TokensOutput > 0); // estimated from the partial text when the provider reported nothing
            return Task.CompletedTask;
        });
        Assert.False((await Engine.CancelAsync(view.InstanceId)).Cancelled);
        Assert.IsType<ReplyCompleted>(await SendAsync(view.InstanceId, "next"));
    }
}
