using PromptActors.Variables;

namespace PromptActors.Prompts;

/// <summary>Checks a prompt definition before it is saved, so a bad prompt is refused at the door.</summary>
public static class PromptValidation
{
    public const int MaxIdLength = 128;

    /// <summary>Most stop sequences a prompt may set (providers allow 4 to 16).</summary>
    public const int MaxStopSequences = 16;

    /// <summary>Ids: 1–128 characters of letters, digits, '_', '-', '.' (they appear in URLs and persistence ids).</summary>
    public static bool IsValidId(string? id)
    {
        if (string.IsNullOrEmpty(id) || id.Length > MaxIdLength)
            return false;
        foreach (var c in id)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.'))
                return false;
        }
        return true;
    }

    /// <summary>Returns every problem found; empty when the definition is valid.</summary>
    public static IReadOnlyList<string> Validate(PromptDefinition? definition)
    {
        var errors = new List<string>();
        if (definition is null)
        {
            errors.Add("prompt definition is required");
            return errors;
        }
        if (!IsValidId(definition.Id))
            errors.Add($"id '{definition.Id}' is invalid: use 1-{MaxIdLength} letters, digits, '_', '-' or '.'");
        if (string.IsNullOrWhiteSpace(definition.Name))
            errors.Add("name is required");
        if (definition.Messages is null || definition.Messages.Count == 0)
            errors.Add("messages must hold at least one message");
        else
        {
            for (var i = 0; i < definition.Messages.Count; i++)
            {
                var m = definition.Messages[i];
                if (m is null || m.Content is null)
                    errors.Add($"messages[{i}].content is required");
                else if (!Enum.IsDefined(m.Role) || m.Role == MessageRole.Tool)
                    errors.Add($"messages[{i}].role is invalid");
            }
        }
        if (definition.VariableDefaults is { } defaults)
        {
            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (var i = 0; i < defaults.Count; i++)
            {
                var d = defaults[i];
                if (d is null || !VariableNames.IsValid(d.Name))
                    errors.Add($"variableDefaults[{i}].name '{d?.Name}' is not a valid variable name");
                else if (!seen.Add(d.Name))
                    errors.Add($"variableDefaults[{i}].name '{d.Name}' is declared twice");
            }
        }
        if (definition.Settings is { } s)
        {
            if (s.Temperature is < 0 or > 2)
                errors.Add("settings.temperature must be between 0 and 2");
            if (s.TopP is < 0 or > 1)
                errors.Add("settings.topP must be between 0 and 1");
            if (s.MaxTokens is < 1)
                errors.Add("settings.maxTokens must be positive");
            if (s.TopK is < 1)
                errors.Add("settings.topK must be positive");
            if (s.FrequencyPenalty is < -2 or > 2 || s.FrequencyPenalty is double.NaN)
                errors.Add("settings.frequencyPenalty must be between -2 and 2");
            if (s.PresencePenalty is < -2 or > 2 || s.PresencePenalty is double.NaN)
                errors.Add("settings.presencePenalty must be between -2 and 2");
            if (s.Stop is { } stop)
            {
                if (stop.Count > MaxStopSequences)
                    errors.Add($"settings.stop may hold at most {MaxStopSequences} sequences");
                if (stop.Any(string.IsNullOrEmpty))
                    errors.Add("settings.stop entries must be non-empty strings");
            }
            SettingsValidation.Check(s, errors);
        }
        if (!Enum.IsDefined(definition.MissingVariables))
            errors.Add("missingVariables must be error, keep or empty");
        return errors;
    }
}
