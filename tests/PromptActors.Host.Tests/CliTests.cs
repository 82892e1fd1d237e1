using Microsoft.Extensions.Configuration;
using PromptActors.Engine;
using PromptActors.Host.Cli;
using PromptActors.Runs;

namespace PromptActors.Host.Tests;

public sealed class CliTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "promptactors-cli-" + Guid.NewGuid().ToString("N"));

    public CliTests() => Directory.CreateDirectory(_dir);

    private string[] HostArgs => [$"--PromptActors:Storage:ConnectionString=Data Source={Path.Combine(_dir, "cli.db")}"];

    [Fact]
    public async Task Run_streams_the_reply_and_prints_the_stats()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var file = Path.Combine(HostFixture.ExamplesPath(), "travel-advisor.json");

        var code = await RunCommand.RunAsync(new RunCommand.Arguments(file, ["city=Paris", "what=museums"], null, false, "cli", HostArgs),
            new StringReader(""), output, error, CancellationToken.None);

        Assert.True(code == RunCommand.Ok, error.ToString());
        Assert.Equal("Tell me about museums.", output.ToString().Trim());
        Assert.Matches(@"TTFT \d+ ms · total \d+ ms · tokens \d+ \(\d+ in / \d+ out\) · cost 0\.000000", error.ToString());
        Assert.Contains("run ", error.ToString());
    }

    [Fact]
    public async Task Run_with_chat_continues_the_conversation_from_the_terminal()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var file = Path.Combine(HostFixture.ExamplesPath(), "travel-advisor.json");

        var code = await RunCommand.RunAsync(new RunCommand.Arguments(file, [], null, true, "cli", HostArgs),
            new StringReader("What about trains?\n/exit\n"), output, error, CancellationToken.None);

        Assert.True(code == RunCommand.Ok, error.ToString());
        Assert.Contains("Tell me about Hotels.", output.ToString());
        Assert.Contains("What about trains?", output.ToString());
        Assert.Contains("2 task(s)", error.ToString());
    }

    [Fact]
    public void Cli_engine_loads_no_examples_and_sweeps_no_tasks_of_a_host_sharing_its_database()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["PromptActors:TaskSweeper:Enabled"] = "true" })
            .AddInMemoryCollection(RunCommand.EngineOverrides) // added last, as RunAsync does
            .Build();
        var options = new PromptActorsOptions();
        configuration.GetSection(PromptActorsOptions.Section).Bind(options);

        Assert.False(options.TaskSweeper.Enabled);
        Assert.False(configuration.GetValue("PromptActors:Examples:Load", true));
    }

    [Theory]
    [InlineData("novalue")]
    [InlineData("=x")]
    public async Task Bad_var_syntax_exits_2(string bad)
    {
        var error = new StringWriter();
        var code = await RunCommand.RunAsync(new RunCommand.Arguments("travel-advisor", [bad], null, false, "cli", HostArgs),
            new StringReader(""), new StringWriter(), error, CancellationToken.None);
        Assert.Equal(RunCommand.UsageError, code);
        Assert.Contains("--var expects name=value", error.ToString());
        Assert.Contains("usage:", error.ToString());
    }

    [Fact]
    public async Task Unknown_prompt_exits_2_and_missing_variables_exit_2()
    {
        var error = new StringWriter();
        Assert.Equal(RunCommand.UsageError, await RunCommand.RunAsync(new RunCommand.Arguments("no-such-prompt", [], null, false, "cli", HostArgs),
            new StringReader(""), new StringWriter(), error, CancellationToken.None));
        var file = Path.Combine(HostFixture.ExamplesPath(), "text-analyzer.json");
        Assert.Equal(RunCommand.UsageError, await RunCommand.RunAsync(new RunCommand.Arguments(file, [], null, false, "cli", HostArgs),
            new StringReader(""), new StringWriter(), error, CancellationToken.None));
        Assert.Contains("missing_variables", error.ToString());
    }

    [Theory]
    [InlineData("null", "holds no prompt object")]
    [InlineData("{\"name\": ", "is not a valid prompt file")]
    [InlineData("{\"name\":\"n\",\"messages\":[]}", "is not a valid prompt")]
    public async Task A_prompt_file_that_is_not_a_prompt_exits_2_with_a_message(string content, string message)
    {
        var file = Path.Combine(_dir, "bad.json");
        await File.WriteAllTextAsync(file, content);
        var error = new StringWriter();

        var code = await RunCommand.RunAsync(new RunCommand.Arguments(file, [], null, false, "cli", HostArgs),
            new StringReader(""), new StringWriter(), error, CancellationToken.None);

        Assert.Equal(RunCommand.UsageError, code);
        Assert.Contains(message, error.ToString());
    }

    [Fact]
    public async Task Unknown_model_exits_2_with_the_known_models()
    {
        var error = new StringWriter();
        var file = Path.Combine(HostFixture.ExamplesPath(), "travel-advisor.json");
        var code = await RunCommand.RunAsync(new RunCommand.Arguments(file, [], "gpt-nope", false, "cli", HostArgs),
            new StringReader(""), new StringWriter(), error, CancellationToken.None);
        Assert.Equal(RunCommand.UsageError, code);
        Assert.Contains("gpt-nope", error.ToString());
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
