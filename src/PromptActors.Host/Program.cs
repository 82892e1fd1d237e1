using System.CommandLine;
using PromptActors.Host;
using PromptActors.Host.Auth;
using PromptActors.Host.Cli;

// PromptActors.Host: `serve` (the default) runs the engine with its HTTP API; `run` runs one prompt in the terminal.
var root = new RootCommand("PromptActors: a durable, distributed prompt execution engine on Akka.NET.")
{
    TreatUnmatchedTokensAsErrors = false,
};

var serve = new Command("serve", "Run the engine and its HTTP API (the default). ASP.NET options such as --urls pass through.")
{
    TreatUnmatchedTokensAsErrors = false,
};

var promptArgument = new Argument<string>("prompt") { Description = "A prompt JSON file, or the id of a stored prompt." };
var varOption = new Option<string[]>("--var") { Description = "A variable as name=value; repeat for more.", Arity = ArgumentArity.ZeroOrMore };
var modelOption = new Option<string?>("--model") { Description = "Run on this model instead of the prompt's." };
var chatOption = new Option<bool>("--chat") { Description = "Keep the conversation going: read follow-up messages from the terminal." };
var userOption = new Option<string>("--user") { Description = "The user id the run is recorded for.", DefaultValueFactory = _ => "cli" };
var run = new Command("run", "Run a prompt and stream its reply to the terminal; prints TTFT, tokens and cost.")
{
    promptArgument, varOption, modelOption, chatOption, userOption,
};
run.TreatUnmatchedTokensAsErrors = false;

var keyArgument = new Argument<string>("key") { Description = "The API key to hash." };
var hashKey = new Command("hash-key", "Print the hash to configure for an API key (PromptActors:Auth:ApiKeys:N:KeyHash).") { keyArgument };

root.Subcommands.Add(serve);
root.Subcommands.Add(run);
root.Subcommands.Add(hashKey);

root.SetAction(async (parsed, ct) => await ServeAsync(parsed.UnmatchedTokens.ToArray(), ct));
serve.SetAction(async (parsed, ct) => await ServeAsync(parsed.UnmatchedTokens.ToArray(), ct));
run.SetAction(async (parsed, ct) => await RunCommand.RunAsync(new RunCommand.Arguments(
    parsed.GetValue(promptArgument)!, parsed.GetValue(varOption) ?? [], parsed.GetValue(modelOption), parsed.GetValue(chatOption),
    parsed.GetValue(userOption) ?? "cli", parsed.UnmatchedTokens.ToArray()), Console.In, Console.Out, Console.Error, ct));
hashKey.SetAction(parsed =>
{
    Console.WriteLine(ApiKeyHasher.Hash(parsed.GetValue(keyArgument)!));
    return 0;
});

var parseResult = root.Parse(args);
if (parseResult.Errors.Count > 0)
{
    foreach (var error in parseResult.Errors)
        Console.Error.WriteLine(error.Message);
    Console.Error.WriteLine("Run with --help for usage.");
    return RunCommand.UsageError;
}
return await parseResult.InvokeAsync();

static async Task<int> ServeAsync(string[] hostArgs, CancellationToken ct)
{
    WebApplication app;
    try
    {
        app = HostApp.Build(hostArgs);
    }
    catch (Exception e)
    {
        Console.Error.WriteLine("PromptActors could not start: " + e.GetBaseException().Message);
        return RunCommand.ExecutionError;
    }
    try
    {
        await app.RunAsync();
        return 0;
    }
    catch (Exception e) when (e is Microsoft.Extensions.Options.OptionsValidationException or PromptActors.Persistence.StorageStartupException
                                  or InvalidOperationException)
    {
        Console.Error.WriteLine("PromptActors could not start: " + e.GetBaseException().Message);
        return RunCommand.ExecutionError;
    }
}
