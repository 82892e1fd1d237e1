namespace PromptActors.Prompts;

/// <summary>
/// Settings a message may change for its own turn (<c>POST …/messages {"settings": {…}}</c>): the sampling settings, the
/// token limit, stop sequences, the seed and the reasoning effort. The model, the response format and the pass-through
/// properties stay the prompt's: they decide the cost, the shape of the reply and what reaches the provider.
/// </summary>
public static class SettingsOverrides
{
    public static readonly IReadOnlyList<string> Allowed =
        ["temperature", "topP", "maxTokens", "stop", "topK", "seed", "frequencyPenalty", "presencePenalty", "reasoningEffort"];

    /// <summary>Why <paramref name="overrides"/> may not be used (empty when it may): a field outside <see cref="Allowed"/>,
    /// or a value the prompt itself could not have.</summary>
    public static IReadOnlyList<string> Check(PromptSettings overrides)
    {
        var errors = new List<string>();
        if (overrides.Model is not null)
            errors.Add("settings.model cannot be changed by a message (allowed: " + string.Join(", ", Allowed) + ")");
        if (overrides.ResponseFormat is not null)
            errors.Add("settings.responseFormat cannot be changed by a message (allowed: " + string.Join(", ", Allowed) + ")");
        if (overrides.AdditionalProperties is not null)
            errors.Add("settings.additionalProperties cannot be changed by a message (allowed: " + string.Join(", ", Allowed) + ")");
        if (overrides.Tools is not null || overrides.ToolChoice is not null || overrides.ParallelToolCalls is not null
            || overrides.MaxIterations is not null || overrides.ClientTools is not null || overrides.RepairAttempts is not null)
            errors.Add("settings.tools, clientTools, toolChoice, parallelToolCalls, maxIterations and repairAttempts cannot be changed by a message (allowed: "
                + string.Join(", ", Allowed) + ")");
        // The same ranges as a saved prompt's settings.
        var probe = new PromptDefinition("message", "message", [new PromptMessage(MessageRole.User, "x")], Settings: overrides);
        errors.AddRange(PromptValidation.Validate(probe));
        return errors;
    }

    /// <summary>The settings a turn runs with: the instance's, with the message's overrides on top.</summary>
    public static PromptSettings Apply(PromptSettings settings, PromptSettings? overrides) => overrides is null
        ? settings
        : settings with
        {
            Temperature = overrides.Temperature ?? settings.Temperature,
            TopP = overrides.TopP ?? settings.TopP,
            MaxTokens = overrides.MaxTokens ?? settings.MaxTokens,
            Stop = overrides.Stop ?? settings.Stop,
            TopK = overrides.TopK ?? settings.TopK,
            Seed = overrides.Seed ?? settings.Seed,
            FrequencyPenalty = overrides.FrequencyPenalty ?? settings.FrequencyPenalty,
            PresencePenalty = overrides.PresencePenalty ?? settings.PresencePenalty,
            ReasoningEffort = overrides.ReasoningEffort ?? settings.ReasoningEffort,
        };

    /// <summary>Null when no field is set (a message that overrides nothing).</summary>
    public static PromptSettings? NullIfEmpty(PromptSettings? overrides) =>
        overrides is null || overrides == PromptSettings.Default || IsEmpty(overrides) ? null : overrides;

    private static bool IsEmpty(PromptSettings s) => s.Model is null && s.Temperature is null && s.TopP is null && s.MaxTokens is null
        && s.Stop is null && s.TopK is null && s.Seed is null && s.FrequencyPenalty is null && s.PresencePenalty is null
        && s.ResponseFormat is null && s.ReasoningEffort is null && s.AdditionalProperties is null
        && s.Tools is null && s.ToolChoice is null && s.ParallelToolCalls is null && s.MaxIterations is null && s.ClientTools is null
        && s.RepairAttempts is null;
}
