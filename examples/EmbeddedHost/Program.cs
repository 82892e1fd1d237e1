// A team's own service with PromptActors inside: the engine on SQLite (PostgreSQL when configured), the built-in local
// model, and one endpoint of the team's own that runs a prompt. Run it with:
//   dotnet run --project examples/EmbeddedHost -- --urls http://127.0.0.1:5090
//   curl -s -XPOST 'http://127.0.0.1:5090/summarize?text=PromptActors%20runs%20prompts%20durably'
using PromptActors;
using PromptActors.Engine;
using PromptActors.Instances;
using PromptActors.Models;
using PromptActors.Persistence.Hosting;
using PromptActors.Prompts;
using PromptActors.Streaming;
using PromptActors.Variables;

var builder = WebApplication.CreateBuilder(args);
builder.Services.AddPromptActorsModels(builder.Configuration);        // the local model, and any of PromptActors:Models
builder.Services.AddPromptActorsWithStorage(builder.Configuration);   // storage, actor system, engine

var app = builder.Build();

// The team's prompt, saved once at start-up (every save is a new version; instances pin the version they started with).
app.Lifetime.ApplicationStarted.Register(() =>
{
    var engine = app.Services.GetRequiredService<IPromptExecutionEngine>();
    engine.SavePromptAsync(new PromptDefinition("summarizer", "Summarizer",
    [
        new PromptMessage(MessageRole.System, "Summarize for {{audience}}."),
        new PromptMessage(MessageRole.User, "{{text}}"),
    ], VariableDefaults: [new VariableDefault("audience", "a busy reader")])).GetAwaiter().GetResult();
});

app.MapPost("/summarize", async (string text, IPromptExecutionEngine engine, CancellationToken ct) =>
{
    try
    {
        var instance = await engine.StartInstanceAsync(new StartInstanceRequest("summarizer", new InstanceScope("demo-user"),
            new Dictionary<string, string> { ["text"] = text }, new ExecutionConfig(AutoRun: true, AllowChat: false)), ct);
        return await engine.WaitForReplyAsync(instance.InstanceId, ct) switch
        {
            ReplyCompleted done => Results.Ok(new { summary = done.Text, tokens = done.Stats.TotalTokens, cost = done.Stats.Cost }),
            ReplyFailed failed => Results.Problem(failed.Detail, statusCode: 502),
            _ => Results.Problem("no reply"),
        };
    }
    catch (PromptActorsException e)
    {
        return Results.Problem(e.Message, statusCode: 400, extensions: new Dictionary<string, object?> { ["code"] = e.Code });
    }
});

app.Run();
