namespace PromptActors.Variables;

/// <summary>The layer a variable value came from, ordered from lowest to highest precedence.</summary>
public enum VariableSource
{
    /// <summary>Default declared by the prompt itself (lowest precedence).</summary>
    PromptDefault,

    /// <summary>Value stored in the user's scope.</summary>
    UserScope,

    /// <summary>Value stored in the organisation's scope.</summary>
    OrgScope,

    /// <summary>Value stored in the project's scope.</summary>
    ProjectScope,

    /// <summary>Value supplied explicitly by the user for this execution.</summary>
    UserProvided,

    /// <summary>Value computed by the engine (highest precedence).</summary>
    Computed,
}
