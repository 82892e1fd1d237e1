using System.Diagnostics;
using Akka.Hosting;
using System.Globalization;
using System.Text.Json;
using PromptActors.Engine;
using PromptActors.Host.Api;
using PromptActors.Instances;
using PromptActors.Models;
using PromptActors.Persistence.Hosting;
using PromptActors.Variables;
using PromptActors.Streaming;
using PromptActors.Runs;

namespace PromptActors.Host.Cli;

/// <summary><c>run &lt;prompt.json | promptId&gt; --var k=v … [--model m] [--chat]</c>: one conversation in the terminal, recorded like any other run.</summary>
public static class RunCommand
{
    public const int Ok = 0;
    public const int UsageError = 2;
    public const int ExecutionError = 3;

    /// <summary>
    /// What the CLI's engine does differently from a host's: it loads no examples, and it runs no task sweeper. A host
    /// may share the SQLite file; the CLI, which lives for one conversation, must not wake the host's instances (it
    /// would rebuild a live one from the journal, mark its reply interrupted and collide with its next event).
    /// </summary>
    public static IReadOnlyDictionary<string, string?> EngineOverrides { get; } = new Dictionary<string, string?>
    {
        ["PromptActors:Examples:Load"] = "false",
        ["PromptActors:TaskSweeper:Enabled"] = "false",
    };

    public sealed record Arguments(string Prompt, IReadOnlyList<string> Vars, string? Model, bool Chat, string User, string[] HostArgs);

    public static async Task<int> RunAsync(Arguments args, TextReader input, TextWriter output, TextWriter error, CancellationToken ct)
    {
        var variables = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var v in args.Vars)
        {
            var eq = v.IndexOf('=');
            if (eq <= 0)
            {
                await error.WriteLineAsync($"--var expects name=value (got '{v}')");
                await error.WriteLineAsync("usage: PromptActors.Host run <prompt.json | promptId> [--var name=value]... [--model id] [--chat] [--user id]");
                return UsageError;
            }
            variables[v[..eq]] = v[(eq + 1)..];
        }

        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            Args = args.HostArgs,
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Configuration.AddInMemoryCollection(EngineOverrides);
        // The terminal shows the reply; only warnings and errors of the engine go to stderr.
        builder.Logging.ClearProviders();
        builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.Logging.AddFilter((_, level) => level >= LogLevel.Warning);
        builder.Services.AddPromptActorsModels(builder.Configuration);
        builder.Services.AddPromptActorsWithStorage(builder.Configuration,
            o =>
            {
                builder.Configuration.GetSection(PromptActorsOptions.Section).Bind(o);
                if (builder.Configuration.GetValue("PromptActors:Examples:Tools", true))
                    ExampleTools.Register(o.Tools, builder.Configuration);
            },
            (akka, _) => akka.AddHocon("akka { loglevel = WARNING, stdout-loglevel = WARNING }", HoconAddMode.Prepend));

        using var host = builder.Build();
        try
        {
            await host.StartAsync(ct);
        }
        catch (Exception e)
        {
            await error.WriteLineAsync("Could not start the engine: " + e.GetBaseException().Message);
            return ExecutionError;
        }
        try
        {
            var engine = host.Services.GetRequiredService<IPromptExecutionEngine>();
            var promptId = await ResolvePromptAsync(engine, args.Prompt, error, ct);
            if (promptId is null)
                return UsageError;

            var view = await engine.StartInstanceAsync(new StartInstanceRequest(promptId, new InstanceScope(args.User), variables,
                new ExecutionConfig(AutoRun: true, AllowChat: args.Chat), new RunSource("cli", promptId), "cli", Model: args.Model), ct);
            if (!await StreamReplyAsync(engine, view.InstanceId, output, error, ct))
                return ExecutionError;
            while (args.Chat)
            {
                await output.WriteAsync("\n> ");
                var line = await input.ReadLineAsync(ct);
                if (line is null || line.Trim() is "/exit" or "/quit")
                    break;
                if (line.Trim().Length == 0)
                    continue;
                await engine.ExecuteMessageAsync(view.InstanceId, line, ct);
                if (!await StreamReplyAsync(engine, view.InstanceId, output, error, ct))
                    return ExecutionError;
            }
            var final = await engine.GetInstanceAsync(view.InstanceId, ct);
            if (final.RunTracking.RunId is { } runId)
                await error.WriteLineAsync($"run {runId} · {final.RunTracking.TaskCount} task(s) · {final.RunTracking.TotalTokens} tokens · cost {final.RunTracking.TotalCost.ToString("0.000000", CultureInfo.InvariantCulture)}");
            return Ok;
        }
        catch (PromptActorsException e)
        {
            await error.WriteLineAsync($"error ({e.Code}): {e.Message}");
            return e.Code is ErrorCodes.ValidationFailed or ErrorCodes.PromptNotFound or ErrorCodes.MissingVariables ? UsageError : ExecutionError;
        }
        finally
        {
            await host.StopAsync(CancellationToken.None);
        }
    }

    private static async Task<string?> ResolvePromptAsync(IPromptExecutionEngine engine, string prompt, TextWriter error, CancellationToken ct)
    {
        if (!File.Exists(prompt))
        {
            if (await engine.GetPromptAsync(prompt, null, ct) is not null)
                return prompt;
            await error.WriteLineAsync($"'{prompt}' is neither a prompt file nor a stored prompt id");
            return null;
        }
        PromptBody? body;
        try
        {
            body = JsonSerializer.Deserialize<PromptBody>(await File.ReadAllTextAsync(prompt, ct), JsonSerializerOptions.Web);
        }
        catch (JsonException e)
        {
            await error.WriteLineAsync($"{prompt} is not a valid prompt file: {e.Message}");
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            await error.WriteLineAsync($"{prompt} cannot be read: {e.Message}");
            return null;
        }
        if (body is null)
        {
            await error.WriteLineAsync($"{prompt} is not a valid prompt file: it holds no prompt object");
            return null;
        }
        var id = body.Id ?? Path.GetFileNameWithoutExtension(prompt);
        var errors = new List<string>();
        var definition = body.ToDefinition(id, errors);
        errors.AddRange(Prompts.PromptValidation.Validate(definition));
        if (errors.Count > 0)
        {
            await error.WriteLineAsync($"{prompt} is not a valid prompt: {string.Join("; ", errors)}");
            return null;
        }
        // A file that matches the stored latest version is not saved again (no new version per run).
        var latest = await engine.GetPromptAsync(id, null, ct);
        if (latest is null || !SameContent(latest, definition))
            await engine.SavePromptAsync(definition, ct);
        return id;
    }

    private static bool SameContent(Prompts.Prompt stored, Prompts.PromptDefinition file) =>
        JsonSerializer.Serialize(new { stored.Name, stored.Description, stored.Messages, stored.VariableDefaults, stored.Settings, stored.MissingVariables })
        == JsonSerializer.Serialize(new
        {
            file.Name,
            file.Description,
            file.Messages,
            VariableDefaults = file.VariableDefaults ?? [],
            Settings = file.Settings ?? Prompts.PromptSettings.Default,
            file.MissingVariables,
        });

    private static async Task<bool> StreamReplyAsync(IPromptExecutionEngine engine, string instanceId, TextWriter output, TextWriter error,
        CancellationToken ct)
    {
        using var spinner = Console.IsErrorRedirected ? null : new Spinner(error);
        var started = Stopwatch.GetTimestamp();
        await foreach (var e in engine.StreamAsync(instanceId, 0, ct))
        {
            switch (e)
            {
                case ReplyChunk chunk:
                    spinner?.Stop();
                    await output.WriteAsync(chunk.Text);
                    await output.FlushAsync(ct);
                    break;
                case ReplyToolCall call:
                    spinner?.Stop();
                    await error.WriteLineAsync($"→ {call.Name} {call.Arguments} ({Api.ToolDto.ToolStatus(call.Status)})"
                        + (call.Status == Instances.ToolCallStatus.AwaitingApproval
                            ? $" — decide with POST /v1/instances/{instanceId}/approvals/{call.CallId}" : ""));
                    break;
                case ReplyToolResult result:
                    await error.WriteLineAsync($"← {result.Name}: {Api.ToolDto.ToolStatus(result.Status)} {result.Preview}");
                    break;
                case ReplyRepair repair:
                    await output.WriteLineAsync();
                    await error.WriteLineAsync($"↺ not the JSON asked for ({repair.Errors}); the model repairs its reply");
                    break;
                case ReplyCompleted done:
                    spinner?.Stop();
                    await output.WriteLineAsync();
                    var s = done.Stats;
                    await error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                        $"TTFT {s.TimeToFirstTokenMs ?? 0:0} ms · total {s.TotalTimeMs:0} ms · tokens {s.TotalTokens} ({s.InputTokens} in / {s.OutputTokens} out{(s.UsageEstimated ? ", estimated" : "")}) · cost {s.Cost:0.000000}"));
                    return true;
                case ReplyFailed failed:
                    spinner?.Stop();
                    await output.WriteLineAsync();
                    await error.WriteLineAsync($"error ({failed.Code}): {failed.Detail}");
                    return false;
            }
        }
        await error.WriteLineAsync($"the reply ended without an outcome after {Stopwatch.GetElapsedTime(started).TotalSeconds:0.0} s");
        return false;
    }

    /// <summary>A spinner on the terminal until the first token.</summary>
    private sealed class Spinner : IDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _task;
        private int _stopped;

        public Spinner(TextWriter writer)
        {
            _task = Task.Run(async () =>
            {
                var frames = "|/-\\";
                var i = 0;
                using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
                try
                {
                    while (await timer.WaitForNextTickAsync(_stop.Token))
                    {
                        await writer.WriteAsync("\r" + frames[i++ % frames.Length] + " ");
                        await writer.FlushAsync();
                    }
                }
                catch (OperationCanceledException)
                {
                }
                await writer.WriteAsync("\r  \r");
            });
        }

        public void Stop()
        {
            if (Interlocked.Exchange(ref _stopped, 1) == 1)
                return;
            _stop.Cancel();
            _task.Wait(TimeSpan.FromSeconds(1));
        }

        public void Dispose()
        {
            Stop();
            _stop.Dispose();
        }
    }
}
