namespace PromptActors.Variables;

/// <summary>What rendering does with a placeholder whose variable is not defined.</summary>
public enum MissingVariablePolicy
{
    /// <summary>Reports the name as missing and keeps the placeholder text; the caller treats it as an error.</summary>
    Error = 0,

    /// <summary>Keeps the placeholder text exactly as written.</summary>
    Keep,

    /// <summary>Replaces the placeholder with an empty string.</summary>
    Empty,
}
