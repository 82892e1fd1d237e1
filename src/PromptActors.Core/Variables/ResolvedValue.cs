namespace PromptActors.Variables;

/// <summary>A merged variable value together with the layer that supplied it.</summary>
/// <param name="Value">The variable's value.</param>
/// <param name="Source">The layer the value came from.</param>
public readonly record struct ResolvedValue(string Value, VariableSource Source);
