using System.Text.Json.Serialization;
using PromptActors.Variables;

namespace PromptActors.Prompts;

/// <summary>Who owns a prompt: a user, an org or a project, or nobody (a built-in, readable by all and writable by none of the keys).</summary>
public enum PromptOwnerKind
{
    BuiltIn,
    User,
    Org,
    Project,
}

/// <summary>
/// The scope a prompt is saved in. Two scopes may each have a prompt of the same id; a caller's id resolves in the order
/// of <see cref="ResolutionOrder"/>: its project, its org, its user, then the built-ins.
/// </summary>
public sealed record PromptOwner(PromptOwnerKind Kind, string ScopeId = "")
{
    public static readonly PromptOwner BuiltIn = new(PromptOwnerKind.BuiltIn);

    [JsonIgnore]
    public bool IsBuiltIn => Kind == PromptOwnerKind.BuiltIn;

    /// <summary>The name stored in <c>prompts.owner_kind</c> and shown in the API.</summary>
    [JsonIgnore]
    public string KindName => Name(Kind);

    public static string Name(PromptOwnerKind kind) => kind switch
    {
        PromptOwnerKind.User => "user",
        PromptOwnerKind.Org => "org",
        PromptOwnerKind.Project => "project",
        _ => "builtin",
    };

    public static PromptOwnerKind? ParseKind(string? name) => name switch
    {
        "user" => PromptOwnerKind.User,
        "org" => PromptOwnerKind.Org,
        "project" => PromptOwnerKind.Project,
        "builtin" => PromptOwnerKind.BuiltIn,
        _ => null,
    };

    public static PromptOwner User(string id) => new(PromptOwnerKind.User, id);
    public static PromptOwner Org(string id) => new(PromptOwnerKind.Org, id);
    public static PromptOwner Project(string id) => new(PromptOwnerKind.Project, id);

    /// <summary>The owners whose prompts a caller in <paramref name="scope"/> sees, the first match winning.</summary>
    public static IReadOnlyList<PromptOwner> ResolutionOrder(InstanceScope scope)
    {
        var order = new List<PromptOwner>(4);
        if (scope.ProjectId is { } p)
            order.Add(Project(p));
        if (scope.OrgId is { } o)
            order.Add(Org(o));
        order.Add(User(scope.UserId));
        order.Add(BuiltIn);
        return order;
    }

    /// <summary>Where a caller's save goes when it names no scope: the narrowest one its key is bound to.</summary>
    public static PromptOwner DefaultFor(InstanceScope scope) =>
        scope.ProjectId is { } p ? Project(p) : scope.OrgId is { } o ? Org(o) : User(scope.UserId);

    /// <summary>Whether a caller in <paramref name="scope"/> may save into (and read from) this owner.</summary>
    public bool BelongsTo(InstanceScope scope) => Kind switch
    {
        PromptOwnerKind.User => ScopeId == scope.UserId,
        PromptOwnerKind.Org => ScopeId == scope.OrgId,
        PromptOwnerKind.Project => ScopeId == scope.ProjectId,
        _ => false,
    };

    public override string ToString() => IsBuiltIn ? "builtin" : $"{KindName}:{ScopeId}";
}
