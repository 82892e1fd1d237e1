using PromptActors.Host.Api;

namespace PromptActors.Host.Auth;

/// <summary>Requires <c>Authorization: Bearer &lt;key&gt;</c> on /v1 when auth is on, and records the caller.</summary>
public sealed class ApiKeyMiddleware(RequestDelegate next, ApiKeyStore keys, AuthOptions options)
{
    public async Task InvokeAsync(HttpContext http)
    {
        if (options.Enabled && http.Request.Path.StartsWithSegments("/v1"))
        {
            var header = http.Request.Headers.Authorization.ToString();
            var key = header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header[7..].Trim() : null;
            var caller = string.IsNullOrEmpty(key) ? null : keys.Find(key);
            if (caller is null)
            {
                http.Response.Headers.WWWAuthenticate = "Bearer";
                await Problems.Of(Problems.Unauthorized, key is null
                    ? "send an API key as 'Authorization: Bearer <key>'"
                    : "the API key is not valid").ExecuteAsync(http);
                return;
            }
            http.Items[ApiEndpoints.CallerKey] = caller;
        }
        await next(http);
    }
}
