using Microsoft.AspNetCore.Cors.Infrastructure;

namespace PromptActors.Host.Auth;

/// <summary>
/// Browsers on other origins (<c>PromptActors:Http:Cors:Origins</c>): ASP.NET Core's CORS middleware with exact origins.
/// The API authenticates with a bearer key, never a cookie, so no credentials are allowed and no wildcard is accepted:
/// a page may call the API only from an origin the operator listed. Preflights are answered before the key check.
/// </summary>
public static class CorsSetup
{
    public const string Section = "PromptActors:Http:Cors:Origins";
    public const string Policy = "promptactors-browsers";

    public static IReadOnlyList<string> Validate(IReadOnlyList<string> origins)
    {
        var errors = new List<string>();
        for (var i = 0; i < origins.Count; i++)
        {
            var origin = origins[i];
            if (!Uri.TryCreate(origin, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")
                || uri.PathAndQuery != "/" || origin.EndsWith('/') || !string.IsNullOrEmpty(uri.UserInfo))
                errors.Add($"{Section}:{i} must be an exact origin such as https://app.example.com (scheme, host and port only; no wildcard, path or trailing '/'), was '{origin}'");
        }
        return errors;
    }

    public static Action<CorsPolicyBuilder> Configure(IReadOnlyList<string> origins) => policy => policy
        .WithOrigins(origins.ToArray())
        .WithMethods("GET", "POST", "PUT", "PATCH", "DELETE")
        .WithHeaders("Authorization", "Content-Type", "Last-Event-ID", "Accept", "Idempotency-Key")
        .WithExposedHeaders("Location", "X-PromptActors-Node")
        .SetPreflightMaxAge(TimeSpan.FromMinutes(10));
}
