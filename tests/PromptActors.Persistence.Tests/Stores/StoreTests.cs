using PromptActors.Persistence.Sql;
using PromptActors.Persistence.Tests.Support;
using PromptActors.Prompts;
using PromptActors.Runs;
using PromptActors.Testing;
using PromptActors.Variables;

namespace PromptActors.Persistence.Tests.Stores;

/// <summary>The SQL stores keep the in-memory stores' semantics; the same tests run on SQLite and PostgreSQL.</summary>
public abstract class StoreTests(ITestDatabases databases) : StorageTestBase(databases)
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 23, 9, 0, 0, TimeSpan.Zero);

    // ------------------------------------------------------------------ prompts

    [Fact]
    public async Task Prompt_versions_grow_by_one_per_save_and_latest_is_returned_without_a_version()
    {
        var v1 = await Storage.Prompts.SaveAsync(Definition("greeter", "You are version one."));
        var v2 = await Storage.Prompts.SaveAsync(Definition("greeter", "You are version two."));
        var v3 = await Storage.Prompts.SaveAsync(Definition("greeter", "You are version three."));
        var other = await Storage.Prompts.SaveAsync(Definition("other", "Another prompt."));

        Assert.Equal([1, 2, 3, 1], new[] { v1.Version, v2.Version, v3.Version, other.Version });
        Assert.Equal("You are version three.", (await Storage.Prompts.GetAsync("greeter", null))!.Messages[0].Content);
        Assert.Equal("You are version one.", (await Storage.Prompts.GetAsync("greeter", 1))!.Messages[0].Content);
        Assert.Equal("You are version two.", (await Storage.Prompts.GetAsync("greeter", 2))!.Messages[0].Content);
        // Every version keeps the prompt's creation time, as the in-memory store does.
        Assert.Equal(v1.CreatedAt, (await Storage.Prompts.GetAsync("greeter", 3))!.CreatedAt);
    }

    [Fact]
    public async Task Prompts_of_one_id_live_apart_per_owner_and_resolve_project_org_user_then_built_in()
    {
        var memory = new InMemoryPromptStore();
        foreach (var store in new IPromptStore[] { Storage.Prompts, memory })
        {
            await store.SaveAsync(Definition("agent", "built-in"));
            await store.SaveAsync(Definition("agent", "u1 v1"), PromptOwner.User("u1"));
            await store.SaveAsync(Definition("agent", "u1 v2"), PromptOwner.User("u1"));
            var org = await store.SaveAsync(Definition("agent", "o1"), PromptOwner.Org("o1"));
            await store.SaveAsync(Definition("agent", "p2"), PromptOwner.Project("p2"));
            Assert.Equal((1, PromptOwner.Org("o1")), (org.Version, org.Owner));

            async Task<string?> Resolve(InstanceScope scope, int? version = null) =>
                (await store.ResolveAsync(scope, "agent", version))?.Messages[0].Content;
            Assert.Equal("o1", await Resolve(new InstanceScope("u1", "o1", "p1")));     // no project prompt: the org's
            Assert.Equal("p2", await Resolve(new InstanceScope("u1", "o1", "p2")));
            Assert.Equal("u1 v2", await Resolve(new InstanceScope("u1", "o9")));
            Assert.Equal("u1 v1", await Resolve(new InstanceScope("u1", "o9"), 1));
            Assert.Null(await Resolve(new InstanceScope("u1", "o9"), 3));            // the deciding owner has no v3
            Assert.Equal("built-in", await Resolve(new InstanceScope("u9")));
            Assert.Null(await store.ResolveAsync(new InstanceScope("u9"), "nothing", null));

            Assert.Equal("u1 v1", (await store.GetAsync(PromptOwner.User("u1"), "agent", 1))!.Messages[0].Content);
            Assert.Null(await store.GetAsync(PromptOwner.User("u2"), "agent", null));
            Assert.Equal("built-in", (await store.GetAsync("agent", null))!.Messages[0].Content);
            Assert.Equal(1, (await store.GetAsync("agent", null))!.Version);
        }
    }

    [Fact]
    public async Task A_caller_lists_the_latest_version_of_each_prompt_it_resolves_and_the_versions_of_one()
    {
        var memory = new InMemoryPromptStore();
        foreach (var store in new IPromptStore[] { Storage.Prompts, memory })
        {
            await store.SaveAsync(Definition("agent", "built-in"));
            await store.SaveAsync(Definition("shared", "built-in shared"));
            await store.SaveAsync(Definition("agent", "u1 v1"), PromptOwner.User("u1"));
            await store.SaveAsync(Definition("agent", "u1 v2"), PromptOwner.User("u1"));
            await store.SaveAsync(Definition("notes", "o1 notes"), PromptOwner.Org("o1"));
            await store.SaveAsync(Definition("secret", "u2's"), PromptOwner.User("u2"));

            var u1 = new InstanceScope("u1", "o1", "p1");
            var listed = await store.ListAsync(u1, 100);
            Assert.Equal([("agent", 2, "u1 v2"), ("notes", 1, "o1 notes"), ("shared", 1, "built-in shared")],
                listed.Select(p => (p.Id, p.Version, p.Messages[0].Content)));
            Assert.Equal(["agent", "shared"], (await store.ListAsync(null, 100)).Select(p => p.Id)); // the built-ins only
            Assert.Equal(["agent"], (await store.ListAsync(u1, 1)).Select(p => p.Id));
            Assert.DoesNotContain(await store.ListAsync(new InstanceScope("u9"), 100), p => p.Id == "secret"); // another user's

            Assert.Equal(["u1 v2", "u1 v1"], (await store.VersionsAsync(u1, "agent", 100)).Select(p => p.Messages[0].Content));
            Assert.Equal([1], (await store.VersionsAsync(null, "agent", 100)).Select(p => p.Version));
            Assert.Empty(await store.VersionsAsync(new InstanceScope("u9"), "secret", 100)); // exactly as an unknown id
            Assert.Empty(await store.VersionsAsync(u1, "nothing", 100));
        }
    }

    [Fact]
    public async Task Prompt_round_trips_every_field()
    {
        var definition = new PromptDefinition("travel", "Travel Advisor",
            [new PromptMessage(MessageRole.System, "You advise on travel to {{city}}."),
             new PromptMessage(MessageRole.User, "Tell me about {{what}} — «unicode» ✓"),
             new PromptMessage(MessageRole.Assistant, "Sure.")],
            "Helps with trips",
            [new VariableDefault("city", "Las Vegas"), new VariableDefault("what", null, Required: true)],
            new PromptSettings("local", Temperature: 0.7, TopP: 0.9, MaxTokens: 4096, Stop: ["END", "STOP"], TopK: 40, Seed: 7,
                FrequencyPenalty: 0.5, PresencePenalty: -0.5,
                ResponseFormat: new ResponseFormat(ResponseFormat.JsonSchemaType, "trip", """{"type":"object","required":["city"]}""",
                    Strict: true, Description: "A trip"),
                ReasoningEffort: "medium", AdditionalProperties: new Dictionary<string, string> { ["service_tier"] = "\"flex\"" }),
            MissingVariablePolicy.Keep);

        var saved = await Storage.Prompts.SaveAsync(definition);
        var loaded = await Storage.Prompts.GetAsync("travel", null);

        Assert.NotNull(loaded);
        Assert.Equal(saved.Version, loaded.Version);
        Assert.Equal("Travel Advisor", loaded.Name);
        Assert.Equal("Helps with trips", loaded.Description);
        Assert.Equal(definition.Messages, loaded.Messages);
        Assert.Equal(definition.VariableDefaults, loaded.VariableDefaults);
        Assert.Equal(definition.Settings!.Model, loaded.Settings.Model);
        Assert.Equal(0.7, loaded.Settings.Temperature);
        Assert.Equal(0.9, loaded.Settings.TopP);
        Assert.Equal(4096, loaded.Settings.MaxTokens);
        Assert.Equal(["END", "STOP"], loaded.Settings.Stop!);
        Assert.Equal((40, 7L, 0.5, -0.5), (loaded.Settings.TopK!.Value, loaded.Settings.Seed!.Value,
            loaded.Settings.FrequencyPenalty!.Value, loaded.Settings.PresencePenalty!.Value));
        Assert.Equal(definition.Settings.ResponseFormat, loaded.Settings.ResponseFormat); // a record of strings: equal by value
        Assert.Equal("medium", loaded.Settings.ReasoningEffort);
        Assert.Equal("\"flex\"", loaded.Settings.AdditionalProperties!["service_tier"]);
        Assert.Equal(MissingVariablePolicy.Keep, loaded.MissingVariables);
        Assert.Equal(saved.CreatedAt, loaded.CreatedAt);
        Assert.Equal(saved.UpdatedAt, loaded.UpdatedAt);
    }

    [Fact]
    public async Task Unknown_prompt_or_version_is_not_found()
    {
        await Storage.Prompts.SaveAsync(Definition("greeter", "Hello."));

        Assert.Null(await Storage.Prompts.GetAsync("nobody", null));
        Assert.Null(await Storage.Prompts.GetAsync("greeter", 2));
    }

    [Fact]
    public async Task Invalid_prompt_is_refused_and_nothing_is_saved()
    {
        await Assert.ThrowsAsync<ValidationFailedException>(() =>
            Storage.Prompts.SaveAsync(new PromptDefinition("bad id!", "x", [new PromptMessage(MessageRole.System, "x")])));
        await Assert.ThrowsAsync<ValidationFailedException>(() =>
            Storage.Prompts.SaveAsync(new PromptDefinition("empty", "x", [])));

        Assert.Equal(0, await CountAsync("prompts"));
    }

    [Fact]
    public async Task Concurrent_saves_of_one_prompt_get_distinct_consecutive_versions()
    {
        var saves = Enumerable.Range(0, 32)
            .Select(i => Task.Run(() => Storage.Prompts.SaveAsync(Definition("busy", $"Save {i}."))));

        var versions = (await Task.WhenAll(saves)).Select(p => p.Version).Order().ToArray();

        Assert.Equal(Enumerable.Range(1, 32), versions);
    }

    // ------------------------------------------------------------------ scoped variables

    [Fact]
    public async Task Scope_map_is_replaced_whole()
    {
        await Storage.Variables.SetAsync(ScopeKind.Org, "o1", Map(("org_name", "Acme"), ("tone", "formal"), ("region", "EU")));
        await Storage.Variables.SetAsync(ScopeKind.Org, "o1", Map(("tone", "casual"), ("motto", "Ship it")));

        var map = await Storage.Variables.GetAsync(ScopeKind.Org, "o1");

        Assert.Equal(Map(("tone", "casual"), ("motto", "Ship it")), map);
    }

    [Fact]
    public async Task Concurrent_replacements_of_one_scope_leave_exactly_one_of_the_maps()
    {
        // Each writer replaces the whole map with keys of its own; a mix of two writers' keys would be a map nobody set.
        for (var round = 0; round < 10; round++)
        {
            var maps = Enumerable.Range(0, 6)
                .Select(w => Map(Enumerable.Range(0, 3).Select(k => ($"w{w}_k{k}", $"round {round}")).ToArray()))
                .ToArray();

            await Task.WhenAll(maps.Select(m => Task.Run(() => Storage.Variables.SetAsync(ScopeKind.Org, "busy", m))));

            var stored = await Storage.Variables.GetAsync(ScopeKind.Org, "busy");
            Assert.Contains(maps, m => m.Count == stored.Count && !m.Except(stored).Any());
        }
    }

    [Fact]
    public async Task Scopes_are_kept_apart_by_kind_and_id()
    {
        await Storage.Variables.SetAsync(ScopeKind.User, "x", Map(("name", "user x")));
        await Storage.Variables.SetAsync(ScopeKind.Org, "x", Map(("name", "org x")));
        await Storage.Variables.SetAsync(ScopeKind.Project, "x", Map(("name", "project x")));
        await Storage.Variables.SetAsync(ScopeKind.Org, "y", Map(("name", "org y")));

        Assert.Equal("user x", (await Storage.Variables.GetAsync(ScopeKind.User, "x"))["name"]);
        Assert.Equal("org x", (await Storage.Variables.GetAsync(ScopeKind.Org, "x"))["name"]);
        Assert.Equal("project x", (await Storage.Variables.GetAsync(ScopeKind.Project, "x"))["name"]);
        Assert.Equal("org y", (await Storage.Variables.GetAsync(ScopeKind.Org, "y"))["name"]);
    }

    [Fact]
    public async Task Empty_map_clears_a_scope_and_unknown_scope_is_empty()
    {
        await Storage.Variables.SetAsync(ScopeKind.User, "u1", Map(("a", "1"), ("b", "2")));
        await Storage.Variables.SetAsync(ScopeKind.User, "u1", Map());

        Assert.Empty(await Storage.Variables.GetAsync(ScopeKind.User, "u1"));
        Assert.Empty(await Storage.Variables.GetAsync(ScopeKind.Project, "never-set"));
    }

    [Fact]
    public async Task Invalid_variable_name_is_refused_and_the_old_map_stays()
    {
        await Storage.Variables.SetAsync(ScopeKind.User, "u1", Map(("good", "1")));

        await Assert.ThrowsAsync<ValidationFailedException>(() =>
            Storage.Variables.SetAsync(ScopeKind.User, "u1", Map(("fine", "1"), ("not valid", "2"))));

        Assert.Equal(Map(("good", "1")), await Storage.Variables.GetAsync(ScopeKind.User, "u1"));
    }

    [Fact]
    public async Task Large_scope_map_round_trips()
    {
        var big = Enumerable.Range(0, 1200).ToDictionary(i => $"var_{i}", i => new string('v', i % 50) + i);
        await Storage.Variables.SetAsync(ScopeKind.Project, "p1", big);

        Assert.Equal(big, await Storage.Variables.GetAsync(ScopeKind.Project, "p1"));
    }

    // ------------------------------------------------------------------ runs

    [Fact]
    public async Task First_task_write_creates_the_run_and_unknown_run_is_not_found()
    {
        Assert.Null(await Storage.Runs.GetRunAsync("r1"));

        await Storage.Runs.UpsertTaskAsync(Row("r1", "t1", RunTaskStatus.Pending, T0));

        var run = await Storage.Runs.GetRunAsync("r1");
        Assert.NotNull(run);
        Assert.Equal("u1", run.Info.UserId);
        Assert.Equal("o1", run.Info.OrgId);
        Assert.Equal("p1", run.Info.ProjectId);
        Assert.Equal("prompt", run.Info.SourceType);
        Assert.Equal("travel", run.Info.SourceId);
        Assert.Equal("demo", run.Info.Name);
        Assert.Equal("travel", run.Info.PromptId);
        Assert.Equal(3, run.Info.PromptVersion);
        Assert.Equal("scripted", run.Info.Settings.Model);
        Assert.Equal("Paris", run.Info.VariableValues["city"]);
        Assert.Equal(T0, run.Info.CreatedAt);
        Assert.Equal("running", run.Status);
        Assert.Equal(1, run.TaskCount);
    }

    [Fact]
    public async Task A_task_keeps_the_key_id_and_the_message_s_own_settings_through_its_updates()
    {
        var settings = new PromptSettings(Temperature: 0.2, Stop: ["END"], ReasoningEffort: "low");
        await Storage.Runs.UpsertTaskAsync(Row("r1", "t1", RunTaskStatus.Pending, T0) with { KeyId = "key_a", Settings = settings });
        await Storage.Runs.UpsertTaskAsync(Row("r1", "t1", RunTaskStatus.Completed, T0, "Hello") with { KeyId = "key_a", Settings = settings });
        await Storage.Runs.UpsertTaskAsync(Row("r1", "t2", RunTaskStatus.Completed, T0, "Again"));

        var tasks = (await Storage.Runs.GetRunAsync("r1"))!.Tasks;

        Assert.Equal("key_a", tasks[0].KeyId);
        Assert.Equal(0.2, tasks[0].Settings!.Temperature);
        Assert.Equal(["END"], tasks[0].Settings!.Stop!);
        Assert.Equal("low", tasks[0].Settings!.ReasoningEffort);
        Assert.Null(tasks[1].Settings);
        Assert.Null(tasks[1].KeyId);
    }

    [Fact]
    public async Task Task_upsert_is_idempotent()
    {
        var completed = Row("r1", "t1", RunTaskStatus.Completed, T0, "Hello", tokens: 15, cost: 0.00006m);

        for (var i = 0; i < 3; i++)
            await Storage.Runs.UpsertTaskAsync(completed);

        var run = await Storage.Runs.GetRunAsync("r1");
        Assert.Equal(1, run!.TaskCount);
        Assert.Equal(15, run.TotalTokens);
        Assert.Equal(0.00006m, run.TotalCost);
        Assert.Single(await StoredTasksAsync());
        await AssertTotalsMatchTaskRowsAsync("r1");
    }

    [Fact]
    public async Task Terminal_task_is_never_moved_back_to_pending_or_streaming()
    {
        await Storage.Runs.UpsertTaskAsync(Row("r1", "t1", RunTaskStatus.Pending, T0));
        await Storage.Runs.UpsertTaskAsync(Row("r1", "t1", RunTaskStatus.Completed, T0, "Final answer", tokens: 15, cost: 0.00006m));
        // Late progress writes (they are best effort and may arrive after the final row).
        await Storage.Runs.UpsertTaskAsync(Row("r1", "t1", RunTaskStatus.Streaming, T0));
        await Storage.Runs.UpsertTaskAsync(Row("r1", "t1", RunTaskStatus.Pending, T0));
        // A different terminal outcome does not replace the first one either (same rule as the in-memory store).
        await Storage.Runs.UpsertTaskAsync(Row("r1", "t1", RunTaskStatus.Failed, T0, error: "interrupted"));

        var task = Assert.Single((await Storage.Runs.GetRunAsync("r1"))!.Tasks);
        Assert.Equal(RunTaskStatus.Completed, task.Status);
        Assert.Equal("Final answer", task.ResponseText);
        Assert.Equal(15, task.TokensTotal);
        var stored = await StoredRunAsync("r1");
        Assert.Equal("idle", stored!.Status);
        Assert.Equal(15, stored.TotalTokens);
    }

    [Fact]
    public async Task Streaming_mark_moves_only_a_pending_row_and_leaves_the_run_totals_alone()
    {
        // No row yet (the pending write is late or lost): nothing is written; the final row will create it.
        await Storage.Runs.MarkStreamingAsync(Row("r1", "t0", RunTaskStatus.Streaming, T0));
        Assert.Null(await Storage.Runs.GetRunAsync("r1"));

        await Storage.Runs.UpsertTaskAsync(Row("r1", "t1", RunTaskStatus.Pending, T0));
        var before = await StoredRunAsync("r1");
        await Storage.Runs.MarkStreamingAsync(Row("r1", "t1", RunTaskStatus.Streaming, T0));
        var task = Assert.Single((await Storage.Runs.GetRunAsync("r1"))!.Tasks);
        Assert.Equal(RunTaskStatus.Streaming, task.Status);
        Assert.Equal(T0.AddSeconds(1), task.UpdatedAt);
        Assert.Equal("Tell me more", task.UserMessage);
        Assert.Equal(before, await StoredRunAsync("r1"));

        // A late pending write does not move it back; a late streaming mark does not touch a final row.
        await Storage.Runs.UpsertTaskAsync(Row("r1", "t1", RunTaskStatus.Pending, T0));
        Assert.Equal(RunTaskStatus.Streaming, Assert.Single((await Storage.Runs.GetRunAsync("r1"))!.Tasks).Status);
        await Storage.Runs.UpsertTaskAsync(Row("r1", "t1", RunTaskStatus.Completed, T0, "done", tokens: 9, cost: 0.000009m));
        await Storage.Runs.MarkStreamingAsync(Row("r1", "t1", RunTaskStatus.Streaming, T0));
        task = Assert.Single((await Storage.Runs.GetRunAsync("r1"))!.Tasks);
        Assert.Equal(RunTaskStatus.Completed, task.Status);
        Assert.Equal("done", task.ResponseText);
        await AssertTotalsMatchTaskRowsAsync("r1");
    }

    [Fact]
    public async Task Non_terminal_rows_move_forward_and_failures_keep_their_error()
    {
        await Storage.Runs.UpsertTaskAsync(Row("r1", "t1", RunTaskStatus.Pending, T0));
        await Storage.Runs.UpsertTaskAsync(Row("r1", "t1", RunTaskStatus.Streaming, T0));
        await Storage.Runs.UpsertTaskAsync(Row("r1", "t1", RunTaskStatus.Failed, T0, "partial", tokens: 7, cost: 0.000011m,
            error: "provider_error"));

        var task = Assert.Single((await Storage.Runs.GetRunAsync("r1"))!.Tasks);
        Assert.Equal(RunTaskStatus.Failed, task.Status);
        Assert.Equal("provider_error", task.ErrorCode);
        Assert.Equal("provider_error happened", task.ErrorDetail);
        Assert.Equal("partial", task.ResponseText);
        Assert.Equal(7, task.TokensTotal);
    }

    [Fact]
    public async Task Run_totals_equal_the_sum_of_its_task_rows()
    {
        await Storage.Runs.UpsertTaskAsync(Row("r1", "t1", RunTaskStatus.Completed, T0, "one", tokens: 100, cost: 0.123456m));
        await Storage.Runs.UpsertTaskAsync(Row("r1", "t2", RunTaskStatus.Failed, T0.AddMinutes(1), "", tokens: 10, cost: 0.000001m, error: "provider_error"));
        await Storage.Runs.UpsertTaskAsync(Row("r1", "t3", RunTaskStatus.Cancelled, T0.AddMinutes(2), "par", tokens: 5, cost: 0.000002m));
        await Storage.Runs.UpsertTaskAsync(Row("r1", "t4", RunTaskStatus.Completed, T0.AddMinutes(3), "four", tokens: 1, cost: 9999.999999m - 0.123459m));
        await Storage.Runs.UpsertTaskAsync(Row("r1", "t5", RunTaskStatus.Streaming, T0.AddMinutes(4)));
        await Storage.Runs.UpsertTaskAsync(Row("other-run", "t6", RunTaskStatus.Completed, T0, "elsewhere", tokens: 1000, cost: 1m));

        var run = await Storage.Runs.GetRunAsync("r1");
        var stored = await StoredRunAsync("r1");

        Assert.Equal(116, run!.TotalTokens);
        Assert.Equal(9999.999999m, run.TotalCost);
        Assert.Equal(5, run.TaskCount);
        Assert.Equal(4, run.MessageCount); // two completed turns, each with its user message
        Assert.Equal("running", run.Status); // t5 is still streaming
        Assert.Equal(new StoredRun("running", 116, 9999.999999m, 4, 5, T0.AddMinutes(3).AddSeconds(30), T0.AddMinutes(4).AddSeconds(1)),
            stored);
        await AssertTotalsMatchTaskRowsAsync("r1");
    }

    [Fact]
    public async Task Costs_are_stored_exactly_to_six_places()
    {
        decimal[] costs = [0.000001m, 0.123456m, 1.5m, 0.000224m, 9999.999999m];
        for (var i = 0; i < costs.Length; i++)
            await Storage.Runs.UpsertTaskAsync(Row($"r{i}", $"t{i}", RunTaskStatus.Completed, T0, "x", cost: costs[i]));

        for (var i = 0; i < costs.Length; i++)
        {
            var run = await Storage.Runs.GetRunAsync($"r{i}");
            Assert.Equal(costs[i], Assert.Single(run!.Tasks).Cost);
            Assert.Equal(costs[i], (await StoredRunAsync($"r{i}"))!.TotalCost);
        }
    }

    [Fact]
    public async Task Run_transcript_is_derived_from_completed_tasks_in_order()
    {
        await Storage.Runs.UpsertTaskAsync(Row("r1", "t1", RunTaskStatus.Completed, T0, "Paris is lovely.", user: "Where to go?"));
        await Storage.Runs.UpsertTaskAsync(Row("r1", "t2", RunTaskStatus.Failed, T0.AddMinutes(1), "", user: "Lost message", error: "interrupted"));
        await Storage.Runs.UpsertTaskAsync(Row("r1", "t3", RunTaskStatus.Completed, T0.AddMinutes(2), "The Louvre.", user: "And museums?"));
        await Storage.Runs.UpsertTaskAsync(Row("r1", "t0", RunTaskStatus.Completed, T0.AddSeconds(-30), "Welcome!", user: null));

        var run = await Storage.Runs.GetRunAsync("r1");

        Assert.Equal(
            [("assistant", "Welcome!"), ("user", "Where to go?"), ("assistant", "Paris is lovely."),
             ("user", "And museums?"), ("assistant", "The Louvre.")],
            run!.Messages.Select(m => (m.Role, m.Content)).ToArray());
        Assert.Equal(T0.AddMinutes(2).AddSeconds(30), run.LastMessageAt);

        // The ai_run_messages view gives SQL users the same transcript.
        await using var session = await SqlSession.OpenAsync(Storage.Dialect, default);
        var fromView = await session.Sql("""
                SELECT role, content FROM ai_run_messages WHERE run_id = @run
                ORDER BY task_created_at, task_id, position
                """)
            .Text("run", "r1").QueryAsync(r => (r.GetString(0), r.GetString(1)), default);
        Assert.Equal(run.Messages.Select(m => (m.Role, m.Content)), fromView);
    }

    [Fact]
    public async Task Runs_are_listed_by_user_newest_first_up_to_the_limit()
    {
        for (var i = 0; i < 4; i++)
            await Storage.Runs.UpsertTaskAsync(Row($"run-{i}", $"t{i}", RunTaskStatus.Completed, T0.AddHours(i), $"reply {i}", tokens: i));
        await Storage.Runs.UpsertTaskAsync(Row("run-1", "t1b", RunTaskStatus.Completed, T0.AddHours(1).AddMinutes(5), "again", tokens: 10));
        await Storage.Runs.UpsertTaskAsync(Row("someone-else", "tx", RunTaskStatus.Completed, T0.AddDays(1), "x", user: "hi", userId: "u2"));

        var all = await Storage.Runs.ListRunsAsync("u1");
        var two = await Storage.Runs.ListRunsAsync("u1", limit: 2);

        Assert.Equal(["run-3", "run-2", "run-1", "run-0"], all.Select(r => r.Info.RunId));
        Assert.Equal(["run-3", "run-2"], two.Select(r => r.Info.RunId));
        var run1 = all.Single(r => r.Info.RunId == "run-1");
        Assert.Equal(2, run1.TaskCount);
        Assert.Equal(11, run1.TotalTokens);
        Assert.Equal(["someone-else"], (await Storage.Runs.ListRunsAsync("u2")).Select(r => r.Info.RunId));
        Assert.Empty(await Storage.Runs.ListRunsAsync("nobody"));
        Assert.Empty(await Storage.Runs.ListRunsAsync("u1", limit: 0));
    }

    [Fact]
    public async Task Listing_runs_while_new_ones_start_never_shows_a_run_without_its_tasks()
    {
        // Every run is created with its first task, so a listed run without tasks is a torn read.
        for (var i = 0; i < 3; i++)
            await Storage.Runs.UpsertTaskAsync(Row($"run-{i}", $"t{i}", RunTaskStatus.Completed, T0.AddMinutes(i), "reply", tokens: 1));
        using var stop = new CancellationTokenSource();
        var started = 0;
        var writer = Task.Run(async () =>
        {
            for (var i = 3; !stop.IsCancellationRequested; i++)
            {
                await Storage.Runs.UpsertTaskAsync(Row($"run-{i}", $"t{i}", RunTaskStatus.Completed, T0.AddMinutes(i), "reply", tokens: 1));
                Interlocked.Increment(ref started);
            }
        });

        try
        {
            // Keep listing until many runs started in between (bounded, so a stuck writer fails the test).
            for (var lists = 0; lists < 300 || Volatile.Read(ref started) < 100; lists++)
            {
                Assert.True(lists < 100_000, $"the writer started only {Volatile.Read(ref started)} runs");
                var runs = await Storage.Runs.ListRunsAsync("u1", limit: 3);
                Assert.Equal(3, runs.Count);
                Assert.All(runs, r => Assert.Equal(1, r.TaskCount));
            }
        }
        finally
        {
            await stop.CancelAsync();
            await writer;
        }
    }

    [Fact]
    public async Task Sql_store_gives_the_same_runs_as_the_in_memory_store()
    {
        // The same shuffled stream of writes (progress, finals, retries, late progress) into both stores.
        var memory = new InMemoryRunStore();
        var random = new Random(4711);
        var writes = new List<RunTaskRecord>();
        for (var t = 0; t < 24; t++)
        {
            var runId = $"run-{t % 4}";
            var at = T0.AddMinutes(t);
            var final = (t % 5) switch
            {
                0 => RunTaskStatus.Failed,
                1 => RunTaskStatus.Cancelled,
                _ => RunTaskStatus.Completed,
            };
            writes.Add(Row(runId, $"task-{t}", RunTaskStatus.Pending, at));
            writes.Add(Row(runId, $"task-{t}", RunTaskStatus.Streaming, at));
            if (t % 7 != 3) // some tasks never finish
                writes.Add(Row(runId, $"task-{t}", final, at, $"reply {t}", tokens: t * 3, cost: t * 0.000123m,
                    error: final == RunTaskStatus.Failed ? "provider_error" : null));
        }
        var stream = writes.Concat(writes.Where(_ => random.Next(3) == 0)).OrderBy(_ => random.Next()).ToList();

        foreach (var write in stream)
        {
            if (write.Status == RunTaskStatus.Streaming && random.Next(2) == 0)
            {
                // The engine marks streaming with the small update; both ways must give the same rows.
                await memory.MarkStreamingAsync(write);
                await Storage.Runs.MarkStreamingAsync(write);
                continue;
            }
            await memory.UpsertTaskAsync(write);
            await Storage.Runs.UpsertTaskAsync(write);
        }

        var expected = await memory.ListRunsAsync("u1");
        var actual = await Storage.Runs.ListRunsAsync("u1");
        Assert.Equal(expected.Select(r => r.Info.RunId).Order(), actual.Select(r => r.Info.RunId).Order());
        foreach (var want in expected)
        {
            var got = actual.Single(r => r.Info.RunId == want.Info.RunId);
            Assert.Equal(Summary(want), Summary(got));
            await AssertTotalsMatchTaskRowsAsync(want.Info.RunId);
            var stored = await StoredRunAsync(want.Info.RunId);
            Assert.Equal((want.Status, want.TotalTokens, want.TotalCost, want.MessageCount, want.TaskCount, want.LastMessageAt),
                (stored!.Status, stored.TotalTokens, stored.TotalCost, stored.MessageCount, stored.TaskCount, stored.LastMessageAt));
            // The stored updated_at moves with the writes that change the run (a task created or finished); the small
            // streaming mark touches only its task row, so the column may trail the newest streaming mark.
            Assert.True(stored.UpdatedAt <= want.UpdatedAt, $"{stored.UpdatedAt} > {want.UpdatedAt}");
        }
    }

    [Fact]
    public async Task Concurrent_writes_of_many_runs_give_the_same_rows_as_one_at_a_time()
    {
        // Many instances writing at once (PostgreSQL gathers them into batches): each task's writes in its own order, all
        // tasks at the same time, some final rows twice. The result must equal the in-memory store's.
        var memory = new InMemoryRunStore();
        var perTask = new List<List<RunTaskRecord>>();
        for (var t = 0; t < 120; t++)
        {
            var runId = $"crun-{t % 15}";
            var at = T0.AddSeconds(t);
            var writes = new List<RunTaskRecord> { Row(runId, $"ctask-{t}", RunTaskStatus.Pending, at) };
            writes.Add(Row(runId, $"ctask-{t}", RunTaskStatus.Streaming, at));
            if (t % 9 != 4)
            {
                var final = Row(runId, $"ctask-{t}", t % 6 == 0 ? RunTaskStatus.Failed : RunTaskStatus.Completed, at, $"reply {t}",
                    tokens: t, cost: t * 0.000007m, error: t % 6 == 0 ? "provider_error" : null);
                writes.Add(final);
                if (t % 4 == 0)
                    writes.Add(final); // a retry
            }
            // One run row for all tasks of a run (which write creates it is up to the race).
            var run = Row(runId, "any", RunTaskStatus.Pending, T0).Run;
            perTask.Add(writes.Select(w => w with { Run = run }).ToList());
        }
        foreach (var write in perTask.SelectMany(w => w))
        {
            if (write.Status == RunTaskStatus.Streaming)
                await memory.MarkStreamingAsync(write);
            else
                await memory.UpsertTaskAsync(write);
        }

        await Task.WhenAll(perTask.Select(writes => Task.Run(async () =>
        {
            foreach (var write in writes)
            {
                if (write.Status == RunTaskStatus.Streaming)
                    await Storage.Runs.MarkStreamingAsync(write);
                else
                    await Storage.Runs.UpsertTaskAsync(write);
            }
        })));

        foreach (var runId in Enumerable.Range(0, 15).Select(i => $"crun-{i}"))
        {
            var want = (await memory.GetRunAsync(runId))!;
            var got = (await Storage.Runs.GetRunAsync(runId))!;
            Assert.Equal(Summary(want), Summary(got));
            Assert.Equal(want.Tasks.OrderBy(x => x.TaskId).Select(x => (x.TaskId, x.Status, x.TokensTotal, x.Cost, x.ResponseText)),
                got.Tasks.OrderBy(x => x.TaskId).Select(x => (x.TaskId, x.Status, x.TokensTotal, x.Cost, x.ResponseText)));
            await AssertTotalsMatchTaskRowsAsync(runId);
            var stored = await StoredRunAsync(runId);
            Assert.Equal((want.Status, want.TotalTokens, want.TotalCost, want.MessageCount, want.TaskCount),
                (stored!.Status, stored.TotalTokens, stored.TotalCost, stored.MessageCount, stored.TaskCount));
        }
    }

    // ------------------------------------------------------------------ helpers

    private static object Summary(RunRecord r) => new
    {
        r.Status,
        r.TotalTokens,
        r.TotalCost,
        r.MessageCount,
        r.TaskCount,
        r.CreatedAt,
        r.UpdatedAt,
        r.LastMessageAt,
        Messages = string.Join("|", r.Messages.Select(m => $"{m.Role}:{m.Content}:{m.TaskId}:{m.Timestamp:O}")),
        Tasks = string.Join("|", r.Tasks.Select(t =>
            $"{t.TaskId}:{t.Status}:{t.ResponseText}:{t.ErrorCode}:{t.TokensTotal}:{t.Cost:0.000000}:{t.CreatedAt:O}:{t.UpdatedAt:O}:{t.CompletedAt:O}")),
    };

    [Fact]
    public async Task Unfinished_tasks_are_found_with_their_instance_within_the_window_oldest_first()
    {
        RunTaskRecord Owned(RunTaskRecord row, string? instanceId) => row with { Run = row.Run with { InstanceId = instanceId } };
        await Storage.Runs.UpsertTaskAsync(Owned(Row("run-s1", "t-stale", RunTaskStatus.Streaming, T0), "inst-1"));
        await Storage.Runs.UpsertTaskAsync(Owned(Row("run-s2", "t-pending", RunTaskStatus.Pending, T0.AddMinutes(1)), "inst-2"));
        await Storage.Runs.UpsertTaskAsync(Owned(Row("run-s2", "t-done", RunTaskStatus.Completed, T0, "ok", 10), "inst-2"));
        await Storage.Runs.UpsertTaskAsync(Owned(Row("run-s3", "t-fresh", RunTaskStatus.Pending, T0.AddMinutes(10)), "inst-3"));
        await Storage.Runs.UpsertTaskAsync(Owned(Row("run-s4", "t-old", RunTaskStatus.Pending, T0.AddDays(-3)), "inst-4"));
        await Storage.Runs.UpsertTaskAsync(Owned(Row("run-s5", "t-nobody", RunTaskStatus.Pending, T0), null));

        var found = await Storage.Runs.FindUnfinishedTasksAsync(updatedBefore: T0.AddMinutes(5), createdAfter: T0.AddDays(-1), limit: 10);

        Assert.Equal(["t-stale", "t-pending"], found.Select(f => f.TaskId));
        Assert.Equal(["inst-1", "inst-2"], found.Select(f => f.InstanceId));
        Assert.Equal([RunTaskStatus.Streaming, RunTaskStatus.Pending], found.Select(f => f.Status));
        Assert.Equal("run-s2", found[1].RunId);
        Assert.Single(await Storage.Runs.FindUnfinishedTasksAsync(T0.AddMinutes(5), T0.AddDays(-1), limit: 1));
        Assert.Equal("inst-2", (await Storage.Runs.GetRunAsync("run-s2"))!.Info.InstanceId);
    }

    private static PromptDefinition Definition(string id, string system) =>
        new(id, id, [new PromptMessage(MessageRole.System, system)]);

    private static Dictionary<string, string> Map(params (string Key, string Value)[] entries) =>
        entries.ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal);

    protected static RunTaskRecord Row(string runId, string taskId, RunTaskStatus status, DateTimeOffset createdAt,
        string? text = null, long tokens = 0, decimal cost = 0m, string? error = null, string? user = "Tell me more",
        string userId = "u1")
    {
        var run = new RunInfo(runId, userId, "o1", "p1", "prompt", "travel", "demo", "travel", 3, new PromptSettings("scripted"),
            new Dictionary<string, string> { ["city"] = "Paris" }, createdAt);
        var terminal = status is RunTaskStatus.Completed or RunTaskStatus.Failed or RunTaskStatus.Cancelled;
        var updated = terminal ? createdAt.AddSeconds(30) : createdAt.AddSeconds(status == RunTaskStatus.Streaming ? 1 : 0);
        return new RunTaskRecord(run, taskId, "scripted", "scripted", user, status, text, error,
            error is null ? null : error + " happened", tokens / 3, tokens - tokens / 3, tokens, cost,
            terminal ? 120.5 : null, terminal ? 30_000 : null, createdAt, updated, terminal ? updated : null);
    }
}

public sealed class SqliteStoreTests(SqliteFiles files) : StoreTests(files), IClassFixture<SqliteFiles>;

[Collection(PostgresCollection.Name)]
public sealed class PostgresStoreTests(PostgresFixture postgres) : StoreTests(postgres)
{
    [Fact]
    public async Task A_row_the_database_refuses_fails_alone_and_the_rest_of_its_batch_is_written()
    {
        // PostgreSQL refuses a NUL character in text. Queued together with 30 good writes, the bad one makes their batch
        // fail; the writes are then retried one by one.
        var at = new DateTimeOffset(2026, 11, 23, 9, 0, 0, TimeSpan.Zero);
        var good = Enumerable.Range(0, 30)
            .Select(i => Row($"prun-{i % 3}", $"ptask-{i}", RunTaskStatus.Completed, at.AddSeconds(i), $"reply {i}", tokens: 3))
            .ToList();
        var bad = Row("prun-0", "ptask-bad", RunTaskStatus.Completed, at, "cut\0here", tokens: 3);
        var writes = good.Take(15).Select(g => Storage.Runs.UpsertTaskAsync(g))
            .Append(Storage.Runs.UpsertTaskAsync(bad))
            .Concat(good.Skip(15).Select(g => Storage.Runs.UpsertTaskAsync(g)))
            .ToList();

        await Assert.ThrowsAnyAsync<Exception>(() => writes[15]);
        await Task.WhenAll(writes.Where((_, i) => i != 15));
        var stored = await StoredTasksAsync();
        Assert.Equal(30, stored.Count);
        Assert.DoesNotContain(stored, t => t.TaskId == "ptask-bad");
        foreach (var run in new[] { "prun-0", "prun-1", "prun-2" })
            await AssertTotalsMatchTaskRowsAsync(run);
    }
}
