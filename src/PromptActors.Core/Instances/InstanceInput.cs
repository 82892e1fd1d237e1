using System.Text;
using PromptActors.Prompts;
using PromptActors.Variables;

namespace PromptActors.Instances;

/// <summary>Input checks shared by the instance and the facade, so a bad command is refused before anything changes.</summary>
public static class InstanceInput
{
    public const int MaxNameLength = 256;

    public static string? CheckUserInput(string? input, bool required, InstanceSettings settings, bool hasParts = false)
    {
        if (input is null)
            return required && !hasParts ? "userInput (or parts) is required for a follow-up message" : null;
        if (string.IsNullOrWhiteSpace(input) && !hasParts)
            return "userInput must not be empty";
        return Encoding.UTF8.GetByteCount(input) > settings.MaxInputBytes
            ? $"userInput is larger than the limit of {settings.MaxInputBytes} bytes"
            : null;
    }

    public static List<string> CheckVariables(IReadOnlyDictionary<string, string>? values, IReadOnlyList<string>? removed, InstanceSettings settings)
    {
        var errors = new List<string>();
        if (values is not null)
        {
            if (values.Count > settings.MaxVariables)
                errors.Add($"at most {settings.MaxVariables} variables may be set");
            foreach (var (name, value) in values)
            {
                if (!VariableNames.IsValid(name))
                    errors.Add($"variable name '{Truncate(name)}' is invalid: use letters, digits, '_', '.', '-', starting with a letter or '_'");
                else if (value is null)
                    errors.Add($"variable '{name}' has no value");
                else if (Encoding.UTF8.GetByteCount(value) > settings.MaxInputBytes)
                    errors.Add($"variable '{name}' is larger than the limit of {settings.MaxInputBytes} bytes");
            }
        }
        if (removed is not null)
        {
            foreach (var name in removed)
            {
                if (!VariableNames.IsValid(name))
                    errors.Add($"variable name '{Truncate(name)}' is invalid");
            }
        }
        return errors;
    }

    public static List<string> CheckStart(StartInstance cmd, InstanceSettings settings)
    {
        var errors = new List<string>();
        // A caller's id is checked as the caller gave it (its tenant's tag in front adds 14 characters).
        if (!PromptValidation.IsValidId(cmd.Caller is null ? cmd.InstanceId : TenantIds.Public(cmd.InstanceId, cmd.Caller)))
            errors.Add("instanceId must be 1-128 letters, digits, '_', '-' or '.'");
        if (!PromptValidation.IsValidId(cmd.PromptId))
            errors.Add("promptId must be 1-128 letters, digits, '_', '-' or '.'");
        if (cmd.PromptVersion is < 1)
            errors.Add("promptVersion must be 1 or more");
        if (cmd.Scope is null)
            errors.Add("scope.userId is required");
        else
            errors.AddRange(cmd.Scope.Validate());
        errors.AddRange(CheckVariables(cmd.Variables, null, settings));
        if (cmd.Model is { } model && (model.Length == 0 || model.Length > MaxNameLength))
            errors.Add($"model must be 1-{MaxNameLength} characters");
        if (cmd.RunName is { Length: > MaxNameLength })
            errors.Add($"runName is longer than {MaxNameLength} characters");
        if (cmd.Source is { } src && (string.IsNullOrWhiteSpace(src.Type) || src.Type.Length > MaxNameLength
                                      || string.IsNullOrWhiteSpace(src.Id) || src.Id.Length > MaxNameLength))
            errors.Add($"source.type and source.id are required and at most {MaxNameLength} characters");
        if (cmd.ClientTools is { } client)
        {
            // The same rules as a prompt's client tools (the caller's join the prompt's when the instance starts).
            var checks = new List<string>();
            Prompts.SettingsValidation.Check(new Prompts.PromptSettings(ClientTools: client), checks);
            errors.AddRange(checks.Select(e => e.Replace("settings.clientTools", "clientTools", StringComparison.Ordinal)));
        }
        return errors;
    }

    private static string Truncate(string? s) => s is null ? "" : s.Length <= 64 ? s : s[..64] + "…";
}
