namespace PromptActors.Instances;

/// <summary>An instance on this node completed (and its run rows are written); the reaper may reap it later.</summary>
public sealed record InstanceCompletedNotice(string InstanceId, DateTimeOffset CompletedAt, bool Retain) : IPromptActorsMessage;

/// <summary>An instance started a new task, or went away: it is no longer a reaping candidate.</summary>
public sealed record InstanceActiveNotice(string InstanceId) : IPromptActorsMessage;

/// <summary>Ask the reaper which instances it tracks (for tests and diagnostics).</summary>
public sealed record GetReaperState : IPromptActorsMessage
{
    public static readonly GetReaperState Instance = new();
}

/// <summary>
/// Reply to <see cref="GetReaperState"/>: completed instances held in memory on this node, oldest first, and those the
/// reaper passivated over the limit and still reaps when their time is up.
/// </summary>
public sealed record ReaperState(IReadOnlyList<string> CompletedInstanceIds, IReadOnlyList<string>? PassivatedInstanceIds = null)
    : IPromptActorsMessage;
