namespace PromptActors.Prompts;

/// <summary>Ask the node's prompt cache for a prompt: the latest version when <see cref="Version"/> is null.</summary>
public sealed record GetPrompt(string PromptId, int? Version = null) : IPromptActorsMessage;

/// <summary>Reply to <see cref="GetPrompt"/>.</summary>
public sealed record PromptFound(Prompt Prompt) : IPromptActorsMessage;

/// <summary>Reply to <see cref="GetPrompt"/> when the store has no such prompt (or version).</summary>
public sealed record PromptNotFound(string PromptId, int? Version) : IPromptActorsMessage;

/// <summary>Reply to <see cref="GetPrompt"/> when the store failed; the failure is not cached.</summary>
public sealed record PromptLoadFailed(string PromptId, int? Version, string Reason) : IPromptActorsMessage;

/// <summary>Drops the cached latest version of a prompt (sent after a save, on every node).</summary>
public sealed record InvalidatePrompt(string PromptId) : IPromptActorsMessage;
