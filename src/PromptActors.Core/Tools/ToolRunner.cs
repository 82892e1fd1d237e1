using System.Text.Json;
using Microsoft.Extensions.AI;
using PromptActors.Instances;

namespace PromptActors.Tools;

/// <summary>
/// Makes one tool call off the instance's thread: the arguments parsed into <see cref="AIFunctionArguments"/> with the
/// call's <see cref="ToolCallContext"/>, the tool's timeout (a tool that ignores its token still fails at the timeout; it
/// is left to finish on its own), and the result as text. The outcome comes back to the instance as a <see cref="ToolDone"/>.
/// </summary>
internal static class ToolRunner
{
    public static Task<ToolDone> RunAsync(ToolRegistration tool, string arguments, ToolCallContext context, TimeSpan timeout,
        int maxResultChars, TimeProvider time, CancellationToken cancelled) =>
        Task.Run(() => InvokeAsync(tool, arguments, context, timeout, maxResultChars, time, cancelled), CancellationToken.None);

    private static async Task<ToolDone> InvokeAsync(ToolRegistration tool, string arguments, ToolCallContext context,
        TimeSpan timeout, int maxResultChars, TimeProvider time, CancellationToken cancelled)
    {
        var started = time.GetTimestamp();
        using var limit = new CancellationTokenSource(timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(limit.Token, cancelled);
        double Elapsed() => time.GetElapsedTime(started).TotalMilliseconds;
        try
        {
            var args = Parse(arguments);
            args.Context = new Dictionary<object, object?> { [ToolCallContext.Key] = context };
            var result = await tool.Function.InvokeAsync(args, linked.Token).AsTask().WaitAsync(timeout, time, cancelled);
            return new ToolDone(context.TaskId, context.CallId, ToolCallStatus.Completed, ToolResults.Format(result, maxResultChars),
                Elapsed(), false);
        }
        catch (OperationCanceledException) when (cancelled.IsCancellationRequested)
        {
            return new ToolDone(context.TaskId, context.CallId, ToolCallStatus.Failed, "error: the turn was cancelled while the tool ran",
                Elapsed(), true);
        }
        catch (Exception e) when (e is TimeoutException || (e is OperationCanceledException && limit.IsCancellationRequested))
        {
            return new ToolDone(context.TaskId, context.CallId, ToolCallStatus.Failed, ToolResults.TimedOut(timeout), Elapsed(), false);
        }
        catch (Exception e)
        {
            return new ToolDone(context.TaskId, context.CallId, ToolCallStatus.Failed,
                ToolResults.Cut(ToolResults.Threw(e), maxResultChars), Elapsed(), false, e.GetType().Name);
        }
    }

    private static AIFunctionArguments Parse(string arguments)
    {
        var args = new AIFunctionArguments();
        if (arguments.Length == 0)
            return args;
        using var doc = JsonDocument.Parse(arguments);
        if (doc.RootElement.ValueKind == JsonValueKind.Object)
        {
            foreach (var p in doc.RootElement.EnumerateObject())
                args[p.Name] = p.Value.Clone();
        }
        return args;
    }
}

/// <summary>
/// A tool call ended (<see cref="Status"/> completed or failed, with its result text); <see cref="Cancelled"/>: it ended
/// because the turn was cancelled. <see cref="ErrorType"/> names the exception a tool threw (for logs and traces only).
/// </summary>
internal sealed record ToolDone(string TaskId, string CallId, ToolCallStatus Status, string Result, double DurationMs, bool Cancelled,
    string? ErrorType = null) : Akka.Actor.INoSerializationVerificationNeeded;

/// <summary>Time to journal the tool results that arrived (see ExecutionInstanceActor.OnToolDone).</summary>
internal sealed class PersistToolResults : Akka.Actor.INoSerializationVerificationNeeded
{
    public static readonly PersistToolResults Instance = new();

    private PersistToolResults()
    {
    }
}
