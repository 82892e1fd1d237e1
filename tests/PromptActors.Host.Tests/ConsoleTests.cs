using System.Text.Json;
using Microsoft.Data.Sqlite;
using Microsoft.Playwright;

namespace PromptActors.Host.Tests;

/// <summary>The host (the local model pausing 20 ms a word, so a reply can be watched and cancelled) and Debian's Chromium.</summary>
public sealed class ConsoleFixture : HostFixture
{
    private MachineChromium? _chromium;

    public IBrowser Browser => _chromium!.Browser;

    /// <summary>Where the tests leave a screenshot of each page.</summary>
    public string Screenshots { get; } = Path.Combine(AppContext.BaseDirectory, "console-screenshots");

    protected override Task<IReadOnlyDictionary<string, string?>> ExtraSettingsAsync() =>
        Task.FromResult<IReadOnlyDictionary<string, string?>>(new Dictionary<string, string?>
        {
            ["PromptActors:Models:local:WordDelay"] = "00:00:00.020",
        });

    public override async Task InitializeAsync()
    {
        _chromium = await MachineChromium.LaunchAsync(); // fails loudly before the host starts when Chromium is missing
        await base.InitializeAsync();
        Directory.CreateDirectory(Screenshots);
    }

    public override async Task DisposeAsync()
    {
        if (_chromium is not null)
            await _chromium.DisposeAsync();
        await base.DisposeAsync();
    }
}

/// <summary>
/// The console in a real browser: sign in, save a prompt (twice, and diff the versions), run it with a variable, watch the
/// reply stream, chat, cancel a turn, open the run and check its figures against the database, open the history and fork.
/// </summary>
public sealed class ConsoleTests(ConsoleFixture fixture) : IClassFixture<ConsoleFixture>
{
    private const string Prompt = """
        {"name":"Console","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Say hello to {{who}}"}],
         "variableDefaults":[{"name":"who","defaultValue":"world"}],"settings":{"model":"local"}}
        """;

    private static readonly PageWaitForFunctionOptions Patience = new() { Timeout = 30_000 };

    [Fact]
    public async Task A_prompt_author_saves_runs_chats_cancels_inspects_the_run_and_forks_from_the_history()
    {
        var page = await fixture.Browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 900 } });
        var errors = new List<string>();
        page.PageError += (_, e) => errors.Add(e);
        var console = fixture.BaseAddress + "console";
        await page.GotoAsync(console);

        // Sign in: a wrong key is refused, the right one opens the prompts.
        await page.FillAsync("#key", "not-a-key");
        await page.ClickAsync("#signin-form button");
        await page.WaitForFunctionAsync("() => document.getElementById('notice').textContent.includes('not valid')", null, Patience);
        await page.FillAsync("#key", HostFixture.KeyU1);
        await page.ClickAsync("#signin-form button");
        await page.WaitForSelectorAsync("#view-prompts:not([hidden])");
        await Shot(page, "prompts");

        // Save a prompt, then a second version, and diff them.
        await page.FillAsync("#prompt-id", "console-p");
        await page.FillAsync("#prompt-json", Prompt);
        await page.ClickAsync("#prompt-save");
        await page.WaitForFunctionAsync("() => document.getElementById('notice').textContent.includes('console-p version 1')", null, Patience);
        // The editor now holds version 1 as the API returns it: edit that text and save it again.
        var loaded = await page.InputValueAsync("#prompt-json");
        Assert.Contains("Be brief.", loaded);
        await page.FillAsync("#prompt-json", loaded.Replace("Be brief.", "Be very brief."));
        await page.ClickAsync("#prompt-save");
        await page.WaitForFunctionAsync("() => document.getElementById('notice').textContent.includes('console-p version 2')", null, Patience);
        await page.WaitForFunctionAsync("() => document.getElementById('diff').textContent.includes('+ ')", null, Patience);
        var diff = await page.InnerTextAsync("#diff");
        Assert.Contains("- ", diff);
        Assert.Contains("Be very brief.", diff);
        Assert.Contains("console-p", await page.InnerTextAsync("#prompt-list"));

        // Run it with a variable: the form says where each value comes from and shows the messages filled in.
        await page.GotoAsync(console + "#run");
        await page.WaitForSelectorAsync("#view-run:not([hidden])");
        await page.WaitForFunctionAsync("() => [...document.getElementById('run-prompt').options].some(o => o.value === 'console-p')", null, Patience);
        await page.SelectOptionAsync("#run-prompt", "console-p");
        Assert.Contains("the prompt's default", await page.InnerTextAsync("#prov-who"));
        await page.FillAsync("#var-who", "Ada");
        Assert.Contains("your value", await page.InnerTextAsync("#prov-who"));
        Assert.Contains("user: Say hello to Ada", await page.InnerTextAsync("#run-preview"));
        await page.ClickAsync("#run-start");
        await page.WaitForFunctionAsync("() => document.getElementById('run-instance').textContent.length > 0", null, Patience);
        var instanceId = await page.InnerTextAsync("#run-instance");

        // A chat turn: the reply streams in, then the conversation shows it.
        await page.FillAsync("#chat-input", "tell me about the weather in Lisbon");
        await page.ClickAsync("#chat-send");
        await page.WaitForFunctionAsync("() => document.getElementById('run-status').textContent === 'completed'", null, Patience);
        var http = fixture.Client();
        var view = await (await http.GetAsync($"/v1/instances/{instanceId}")).Json();
        var stored = view.GetProperty("conversation").GetProperty("messages").EnumerateArray()
            .Last(m => m.GetProperty("role").GetString() == "assistant").GetProperty("content").GetString()!;
        Assert.Equal(stored, await page.InnerTextAsync("#reply"));
        // The conversation is fetched again after the stream's `completed` event: wait for it, not for the status.
        await page.WaitForFunctionAsync("t => document.getElementById('conversation').textContent.includes(t)", stored, Patience);
        Assert.Contains("tokens", await page.InnerTextAsync("#reply-stats"));
        await Shot(page, "run");

        // A long turn (2.4 s at 20 ms a word; the fixture allows 1 KiB of input), cancelled while it streams.
        await page.FillAsync("#chat-input", string.Join(' ', Enumerable.Repeat("slowly", 120)));
        await page.ClickAsync("#chat-send");
        await page.WaitForFunctionAsync("() => document.getElementById('reply').textContent.length > 0", null, Patience);
        await page.ClickAsync("#chat-cancel");
        await page.WaitForFunctionAsync("() => document.getElementById('notice').textContent.includes('cancelled')", null, Patience);

        // The run: its tasks with their figures, as the database has them.
        var runId = (await (await http.GetAsync($"/v1/instances/{instanceId}")).Json()).GetProperty("runTracking").GetProperty("runId").GetString()!;
        await page.GotoAsync(console + "#runs");
        await page.WaitForSelectorAsync($"#run-list tr:has-text('{runId}')");
        await page.ClickAsync($"#run-list tr:has-text('{runId}')");
        await page.WaitForFunctionAsync("() => document.getElementById('task-list').children.length >= 2", null, Patience);
        var shown = await page.EvalOnSelectorAllAsync<string[][]>("#task-list tr",
            "rows => rows.map(r => [...r.children].map(c => c.textContent))");
        await using (var db = new SqliteConnection($"Data Source={fixture.DatabasePath}"))
        {
            await db.OpenAsync();
            foreach (var row in shown)
            {
                await using var status = db.CreateCommand();
                status.CommandText = "SELECT status FROM ai_tasks WHERE task_id = $t";
                status.Parameters.AddWithValue("$t", row[0]);
                Assert.Equal(await status.ExecuteScalarAsync() as string, row[1]);
                await using var tokens = db.CreateCommand(); // the turn's model calls together
                tokens.CommandText = "SELECT SUM(tokens_total) FROM ai_tasks WHERE task_id = $t OR turn_task_id = $t";
                tokens.Parameters.AddWithValue("$t", row[0]);
                Assert.Equal(Convert.ToInt64(await tokens.ExecuteScalarAsync()).ToString(System.Globalization.CultureInfo.InvariantCulture), row[4]);
            }
        }
        Assert.Contains(shown, r => r[1] == "completed");
        Assert.Contains(shown, r => r[1] == "cancelled");
        await Shot(page, "runs");

        // The history, and a fork from the first completed turn: the fork has its own id, the original is unchanged.
        await page.GotoAsync(console + "#history");
        await page.WaitForSelectorAsync("#timeline li");
        var before = (await (await http.GetAsync($"/v1/instances/{instanceId}/history")).Json()).GetProperty("events").GetArrayLength();
        Assert.Equal(before, await page.Locator("#timeline li").CountAsync());
        await Shot(page, "history");
        var completedAt = await page.EvalOnSelectorAllAsync<string>("#timeline li",
            "items => items.find(i => i.textContent.includes('completed:')).querySelector('button').dataset.fork");
        await page.ClickAsync($"button[data-fork='{completedAt}']");
        await page.WaitForFunctionAsync("() => document.getElementById('notice').textContent.includes('Forked into')", null, Patience);
        var forkId = await page.InnerTextAsync("#run-instance");
        Assert.NotEqual(instanceId, forkId);
        static List<string> Messages(JsonElement v) => v.GetProperty("conversation").GetProperty("messages").EnumerateArray()
            .Select(m => m.GetProperty("role").GetString() + ": " + m.GetProperty("content").GetString()).ToList();
        var fork = await (await http.GetAsync($"/v1/instances/{forkId}")).Json();
        // The completed chat turn (the cancelled one left nothing in the conversation).
        Assert.Equal(Messages(view), Messages(fork));
        Assert.Equal(before, (await (await http.GetAsync($"/v1/instances/{instanceId}/history")).Json()).GetProperty("events").GetArrayLength());
        Assert.Empty(errors);
        await page.CloseAsync();
    }

    [Fact]
    public async Task An_image_attached_in_the_console_reaches_the_model_and_shows_under_its_message()
    {
        var http = fixture.Client();
        await http.PutJson("/v1/prompts/console-att", """{"name":"Att","messages":[{"role":"system","content":"Describe."}],"settings":{"model":"local"}}""");
        var page = await fixture.Browser.NewPageAsync();
        var errors = new List<string>();
        page.PageError += (_, e) => errors.Add(e);
        var console = fixture.BaseAddress + "console";
        await page.GotoAsync(console);
        await page.FillAsync("#key", HostFixture.KeyU1);
        await page.ClickAsync("#signin-form button");
        await page.WaitForSelectorAsync("#view-prompts:not([hidden])");
        await page.GotoAsync(console + "#run");
        await page.WaitForFunctionAsync("() => [...document.getElementById('run-prompt').options].some(o => o.value === 'console-att')", null, Patience);
        await page.SelectOptionAsync("#run-prompt", "console-att");
        await page.ClickAsync("#run-start");
        await page.WaitForFunctionAsync("() => document.getElementById('run-instance').textContent.length > 0", null, Patience);

        var png = new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 1, 2, 3 };
        await page.FillAsync("#chat-input", "what is this?");
        await page.SetInputFilesAsync("#chat-files", new FilePayload { Name = "dot.png", MimeType = "image/png", Buffer = png });
        await page.ClickAsync("#chat-send");
        await page.WaitForFunctionAsync("() => document.getElementById('run-status').textContent === 'completed'", null, Patience);

        Assert.Equal("what is this? [image: image/png, 11 bytes]", await page.InnerTextAsync("#reply"));
        await page.WaitForFunctionAsync("t => document.getElementById('conversation').textContent.includes(t)",
            "[image] image/png, 11 bytes", Patience);
        var sha = PromptActors.Attachments.AttachmentHash.Of(png);
        Assert.Equal(png, await (await http.GetAsync($"/v1/attachments/{sha}")).Content.ReadAsByteArrayAsync());
        Assert.Empty(errors);
        await page.CloseAsync();
    }

    [Fact]
    public async Task Tool_calls_wait_in_the_console_for_an_approval_and_for_a_client_tools_result()
    {
        var http = fixture.Client();
        await http.PutJson("/v1/prompts/console-tools", """
            {"name":"Tools","messages":[{"role":"system","content":"Support."}],
             "settings":{"model":"local","tools":["refund_order"],
                         "clientTools":[{"name":"get_location","parameters":{"type":"object","properties":{"precision":{"type":"string"}}}}]}}
            """);
        var page = await fixture.Browser.NewPageAsync();
        var console = fixture.BaseAddress + "console";
        await page.GotoAsync(console);
        await page.FillAsync("#key", HostFixture.KeyU1);
        await page.ClickAsync("#signin-form button");
        await page.WaitForSelectorAsync("#view-prompts:not([hidden])");
        await page.GotoAsync(console + "#run");
        await page.WaitForFunctionAsync("() => [...document.getElementById('run-prompt').options].some(o => o.value === 'console-tools')", null, Patience);
        await page.SelectOptionAsync("#run-prompt", "console-tools");
        await page.ClickAsync("#run-start");
        await page.WaitForFunctionAsync("() => document.getElementById('run-instance').textContent.length > 0", null, Patience);

        await page.FillAsync("#chat-input", """refund_order {"orderId":"C-1"} get_location {"precision":"city"}""");
        await page.ClickAsync("#chat-send");
        await page.WaitForSelectorAsync(".approval button");
        await page.WaitForSelectorAsync("[data-result-for]");
        await Shot(page, "tools");
        await page.ClickAsync(".approval button:has-text('Approve')");
        var resultFor = await page.GetAttributeAsync("[data-result-for]", "data-result-for");
        await page.FillAsync($"#result-{resultFor}", "Lisbon");
        await page.ClickAsync("[data-result-for]");
        await page.WaitForFunctionAsync("() => document.getElementById('run-status').textContent === 'completed'", null, Patience);

        var reply = await page.InnerTextAsync("#reply");
        Assert.Contains("refund_order returned", reply);
        Assert.Contains("get_location returned Lisbon", reply);
        Assert.Equal(0, await page.Locator(".approval, .client-tool").CountAsync());
        await page.CloseAsync();
    }

    [Fact]
    public async Task On_a_phone_sized_screen_the_console_fits_works_from_the_keyboard_and_labels_every_control()
    {
        await fixture.Client().PutJson("/v1/prompts/phone-p", Prompt);
        var page = await fixture.Browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 390, Height = 844 } });
        var errors = new List<string>();
        page.PageError += (_, e) => errors.Add(e);
        await page.GotoAsync(fixture.BaseAddress + "console");

        // Sign in with the keyboard alone: Tab to the key field, type, Enter.
        for (var i = 0; i < 10 && await page.EvaluateAsync<string>("() => document.activeElement?.id ?? ''") != "key"; i++)
            await page.Keyboard.PressAsync("Tab");
        Assert.Equal("key", await page.EvaluateAsync<string>("() => document.activeElement?.id ?? ''"));
        await page.Keyboard.TypeAsync(HostFixture.KeyU1);
        await page.Keyboard.PressAsync("Enter");
        await page.WaitForSelectorAsync("#view-prompts:not([hidden])");

        foreach (var view in new[] { "prompts", "run", "runs" })
        {
            await page.EvaluateAsync($"() => location.hash = '#{view}'");
            await page.WaitForSelectorAsync($"#view-{view}:not([hidden])");
            // Nothing wider than the screen: no sideways scrolling.
            Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth"),
                $"the {view} page scrolls sideways at 390 px");
            await Shot(page, "phone-" + view);
        }
        // Every form control has a label (or an accessible name), every button a text.
        var unlabelled = await page.EvaluateAsync<string[]>("""
            () => [...document.querySelectorAll('input, select, textarea')]
                    .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map(e => e.id || e.outerHTML)
                  .concat([...document.querySelectorAll('button')].filter(b => !b.textContent.trim() && !b.getAttribute('aria-label'))
                    .map(b => b.id || b.outerHTML))
            """);
        Assert.Empty(unlabelled);
        Assert.Empty(errors);
        await page.CloseAsync();
    }

    [Fact]
    public async Task The_console_is_served_by_the_host_with_a_same_origin_content_policy_and_no_key()
    {
        var anonymous = fixture.Client(key: null);
        var page = await anonymous.GetAsync("/console");
        Assert.Equal("text/html", page.Content.Headers.ContentType!.MediaType);
        Assert.Contains("default-src 'self'", page.Headers.GetValues("Content-Security-Policy").Single());
        Assert.Equal(System.Net.HttpStatusCode.OK, (await anonymous.GetAsync("/console/console.js")).StatusCode);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await anonymous.GetAsync("/console/secrets.txt")).StatusCode);
    }

    private async Task Shot(IPage page, string name) =>
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(fixture.Screenshots, name + ".png"), FullPage = true });
}
