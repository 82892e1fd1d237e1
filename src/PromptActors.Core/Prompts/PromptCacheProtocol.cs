namespace PromptActors.Prompts;

/// <summary>
/// Ask the node's prompt cache for a prompt: the latest version when <see cref="Version"/> is null. With
/// <see cref="ResolveFor"/> the id is resolved for a caller in that scope (its project, org, user, then the built-ins);
/// otherwise it is <see cref="Owner"/>'s prompt (null: a built-in).
/// </summary>
public sealed record GetPrompt(string PromptId, int? Version = null, PromptOwner? Owner = null, Variables.InstanceScope? ResolveFor = null)
    : IPromptActorsMessage;

/// <summary>Reply to <see cref="GetPrompt"/>.</summary>
public sealed record PromptFound(Prompt Prompt) : IPromptActorsMessage;

/// <summary>Reply to <see cref="GetPrompt"/> when the store has no such prompt (or version).</summary>
public sealed record PromptNotFound(string PromptId, int? Version) : IPromptActorsMessage;

/// <summary>Reply to <see cref="GetPrompt"/> when the store failed; the failure is not cached.</summary>
public sealed record PromptLoadFailed(string PromptId, int? Version, string Reason) : IPromptActorsMessage;

/// <summary>Drops the cached latest version of a prompt (sent after a save, on every node).</summary>
public sealed record InvalidatePrompt(string PromptId) : IPromptActorsMessage;
