using System.Security.Cryptography;
using System.Text;
using PromptActors.Variables;

namespace PromptActors.Instances;

/// <summary>
/// Instance ids are per tenant. An id a caller-scoped engine (<c>engine.ForCaller(scope)</c>, every API key) names — the
/// caller's own choice or a generated one — is kept as <c>{tag}.{id}</c>, where the tag is derived from the caller's whole
/// scope. Two tenants may therefore use the same id, and starting an instance never tells a caller that another
/// tenant's id exists. The unrestricted engine (no caller) uses ids as given; <see cref="Internal"/> gives it the id a
/// caller's instance has. Callers always see their own id: replies, views and runs are translated back.
/// </summary>
public static class TenantIds
{
    /// <summary><c>t</c> and 12 hex digits of the SHA-256 of the scope: the same for every node and version.</summary>
    public static string Tag(InstanceScope scope)
    {
        ArgumentNullException.ThrowIfNull(scope);
        var text = $"u\u0001{scope.UserId}\u0002o\u0001{scope.OrgId}\u0002p\u0001{scope.ProjectId}";
        return "t" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)).AsSpan(0, 6));
    }

    /// <summary>The id of <paramref name="scope"/>'s instance <paramref name="id"/> for the unrestricted engine.</summary>
    public static string Internal(InstanceScope scope, string id) => Tag(scope) + "." + id;

    /// <summary>The id a caller in <paramref name="scope"/> knows the instance by (the id itself when it has no tag of that scope).</summary>
    public static string Public(string instanceId, InstanceScope? scope) =>
        scope is not null && instanceId.StartsWith(Tag(scope) + ".", StringComparison.Ordinal) ? instanceId[14..] : instanceId;

    /// <summary>The longest internal id: a caller's id (at most 128 characters) behind its tag.</summary>
    public const int MaxInternalLength = 128 + 14;
}
