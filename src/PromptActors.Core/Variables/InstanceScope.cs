namespace PromptActors.Variables;

/// <summary>The three levels at which stored variables live.</summary>
public enum ScopeKind
{
    User,
    Org,
    Project,
}

/// <summary>Who an instance belongs to: a user, optionally within an org and a project.</summary>
public sealed record InstanceScope(string UserId, string? OrgId = null, string? ProjectId = null)
{
    /// <summary>Scope ids share the prompt id rules (they appear in URLs and keys).</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!Prompts.PromptValidation.IsValidId(UserId))
            errors.Add("scope.userId is required and must be 1-128 letters, digits, '_', '-' or '.'");
        if (OrgId is not null && !Prompts.PromptValidation.IsValidId(OrgId))
            errors.Add("scope.orgId must be 1-128 letters, digits, '_', '-' or '.'");
        if (ProjectId is not null && !Prompts.PromptValidation.IsValidId(ProjectId))
            errors.Add("scope.projectId must be 1-128 letters, digits, '_', '-' or '.'");
        return errors;
    }
}

/// <summary>One stored variable map: the variables of one user, org or project.</summary>
public readonly record struct ScopeKey(ScopeKind Kind, string ScopeId);
