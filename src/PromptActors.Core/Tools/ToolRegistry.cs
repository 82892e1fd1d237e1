using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.AI;

namespace PromptActors.Tools;

/// <summary>What happens to a call that was started but whose result was never journaled (its node died meanwhile).</summary>
public enum ToolPolicy
{
    /// <summary>The call is not made again: its result is <c>outcome_unknown</c>, which the model is told (the default).</summary>
    [System.Text.Json.Serialization.JsonStringEnumMemberName("at_most_once")] AtMostOnce,

    /// <summary>The call is made again, with the same idempotency key.</summary>
    [System.Text.Json.Serialization.JsonStringEnumMemberName("idempotent")] Idempotent,
}

/// <summary>
/// A tool the engine may call: an <see cref="AIFunction"/> (Microsoft.Extensions.AI; <c>AIFunctionFactory.Create</c> makes one
/// from a delegate), what happens to it after a crash (<see cref="Policy"/>), whether a person must approve each call first
/// (<see cref="RequiresApproval"/>; an <see cref="ApprovalRequiredAIFunction"/> always does) and how long a call may take
/// (<see cref="Timeout"/>; the instances' <c>ToolTimeout</c> when null).
/// </summary>
public sealed record ToolRegistration(AIFunction Function, ToolPolicy Policy = ToolPolicy.AtMostOnce, bool RequiresApproval = false,
    TimeSpan? Timeout = null)
{
    public string Name => Function.Name;

    /// <summary>Whether each call waits for a person's decision.</summary>
    public bool NeedsApproval => RequiresApproval || Function is ApprovalRequiredAIFunction;
}

/// <summary>The tools a node can run, by name. The same names must be registered on every node of a cluster.</summary>
public interface IToolRegistry
{
    bool TryGet(string name, [NotNullWhen(true)] out ToolRegistration? tool);

    IReadOnlyCollection<string> Names { get; }
}

/// <summary>
/// The tools registered with <c>AddPromptActors(o =&gt; o.Tools.Add(...))</c>. Names are 1-64 letters, digits, '_' or '-'
/// (what providers accept) and unique.
/// </summary>
public sealed class ToolCollection : IToolRegistry
{
    private readonly Dictionary<string, ToolRegistration> _tools = new(StringComparer.Ordinal);

    public static readonly ToolCollection Empty = new();

    public ToolCollection Add(AIFunction function, ToolPolicy policy = ToolPolicy.AtMostOnce, bool requiresApproval = false,
        TimeSpan? timeout = null) => Add(new ToolRegistration(function, policy, requiresApproval, timeout));

    public ToolCollection Add(ToolRegistration tool)
    {
        ArgumentNullException.ThrowIfNull(tool);
        if (ReferenceEquals(this, Empty))
            throw new InvalidOperationException("the empty tool collection cannot be changed");
        if (!IsToolName(tool.Name))
            throw new ArgumentException($"tool name '{tool.Name}' must be 1-64 letters, digits, '_' or '-'", nameof(tool));
        if (tool.Timeout is { } t && t <= TimeSpan.Zero)
            throw new ArgumentException($"tool '{tool.Name}': the timeout must be positive", nameof(tool));
        if (!_tools.TryAdd(tool.Name, tool))
            throw new ArgumentException($"a tool named '{tool.Name}' is already registered", nameof(tool));
        return this;
    }

    public bool TryGet(string name, [NotNullWhen(true)] out ToolRegistration? tool) => _tools.TryGetValue(name, out tool);

    public IReadOnlyCollection<string> Names => _tools.Keys;

    public int Count => _tools.Count;

    public static bool IsToolName(string? name)
    {
        if (name is not { Length: > 0 and <= 64 })
            return false;
        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '-'))
                return false;
        }
        return true;
    }
}

/// <summary>
/// What the engine tells a tool about the call it is making, in <see cref="AIFunctionArguments.Context"/> under
/// <see cref="Key"/> (a tool declares an <see cref="AIFunctionArguments"/> parameter to read it, or calls <see cref="From"/>).
/// <see cref="IdempotencyKey"/> (<c>{taskId}:{callId}</c>) is the same every time the call is made, so a tool with
/// side effects outside the engine can make them once.
/// </summary>
public sealed record ToolCallContext(string IdempotencyKey, string InstanceId, string TaskId, string CallId)
{
    public const string Key = "PromptActors.ToolCall";

    public static ToolCallContext? From(AIFunctionArguments arguments) =>
        arguments.Context is { } context && context.TryGetValue(Key, out var value) ? value as ToolCallContext : null;
}
