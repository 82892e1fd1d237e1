using PromptActors.Host.Api;

namespace PromptActors.Host.Auth;

/// <summary>
/// When auth is on: requires <c>Authorization: Bearer &lt;key&gt;</c> on <c>/v1</c> and records the caller, and requires an
/// admin key on the operations endpoints (<c>/metrics</c>, <c>/clusterz</c>, <c>/openapi</c>). <c>/healthz</c> and
/// <c>/readyz</c> stay open (load balancers and orchestrators probe them without a key). What each role may do on
/// <c>/v1</c> is checked per endpoint (<see cref="ApiRoles.RequireRole{TBuilder}"/>).
/// </summary>
public sealed class ApiKeyMiddleware(RequestDelegate next, ApiKeyResolver keys, AuthOptions options, StreamTokens tokens)
{
    /// <summary>The header an admin key names the scope it acts in with: <c>userId</c>, <c>userId/orgId</c> or <c>userId/orgId/projectId</c>.</summary>
    public const string ActAsHeader = "PromptActors-Scope";

    public static Variables.InstanceScope? ParseScope(string value)
    {
        var parts = value.Trim().Split('/');
        if (parts.Length > 3 || parts.Any(p => !Prompts.PromptValidation.IsValidId(p)))
            return null;
        return new Variables.InstanceScope(parts[0], parts.Length > 1 ? parts[1] : null, parts.Length > 2 ? parts[2] : null);
    }

    public static bool IsOperations(PathString path) =>
        path.StartsWithSegments("/metrics") || path.StartsWithSegments("/clusterz") || path.StartsWithSegments("/openapi");

    /// <summary>The instance id of <c>GET /v1/instances/{id}/stream</c>, the one path a stream token opens.</summary>
    private static string? StreamInstance(HttpRequest request)
    {
        if (!HttpMethods.IsGet(request.Method))
            return null;
        var parts = (request.Path.Value ?? "").Split('/');
        return parts is ["", "v1", "instances", { Length: > 0 } id, "stream"] ? Uri.UnescapeDataString(id) : null;
    }

    public async Task InvokeAsync(HttpContext http)
    {
        var path = http.Request.Path;
        var operations = IsOperations(path);
        if (options.Enabled && (operations || path.StartsWithSegments("/v1")))
        {
            var header = http.Request.Headers.Authorization.ToString();
            var key = header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header[7..].Trim() : null;
            ApiCaller? caller;
            try
            {
                caller = string.IsNullOrEmpty(key) ? null : await keys.FindAsync(key, http.RequestAborted);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Configured keys still work; an issued one cannot be checked while the database is away.
                await Problems.Of(ErrorCodes.StoreUnavailable, "the API key could not be checked (the key store is unavailable); retry").ExecuteAsync(http);
                return;
            }
            // An EventSource cannot send the header: a stream token, on that instance's stream only.
            if (key is null && StreamInstance(http.Request) is { } instanceId
                && http.Request.Query["access_token"].FirstOrDefault() is { Length: > 0 } token)
                caller = tokens.Validate(token, instanceId);
            if (caller is null)
            {
                http.Response.Headers.WWWAuthenticate = "Bearer";
                await Problems.Of(Problems.Unauthorized, key is null
                    ? "send an API key as 'Authorization: Bearer <key>'"
                    : "the API key is not valid").ExecuteAsync(http);
                return;
            }
            if (operations && caller.Role < ApiRole.Admin)
            {
                await Problems.Of(Problems.Forbidden, "the operations endpoints need an admin key").ExecuteAsync(http);
                return;
            }
            if (http.Request.Headers[ActAsHeader].ToString() is { Length: > 0 } actAs)
            {
                // An admin key acts in any scope by naming it: the request is then that scope's, with every tenancy rule.
                if (caller.Role < ApiRole.Admin)
                {
                    await Problems.Of(Problems.Forbidden, $"only an admin key may act in another scope ({ActAsHeader})").ExecuteAsync(http);
                    return;
                }
                if (ParseScope(actAs) is not { } scope)
                {
                    await Problems.Of(ErrorCodes.ValidationFailed,
                        $"{ActAsHeader} must be userId, userId/orgId or userId/orgId/projectId (ids of 1-128 letters, digits, '_', '-' or '.')").ExecuteAsync(http);
                    return;
                }
                caller = caller with { UserId = scope.UserId, OrgId = scope.OrgId, ProjectId = scope.ProjectId };
            }
            http.Items[ApiEndpoints.CallerKey] = caller;
        }
        await next(http);
    }
}

/// <summary>What each <c>/v1</c> endpoint requires of the caller's key.</summary>
public static class ApiRoles
{
    /// <summary>Refuses callers whose key's role is below <paramref name="role"/> with <c>403 forbidden</c> (auth off: everyone may).</summary>
    public static TBuilder RequireRole<TBuilder>(this TBuilder builder, ApiRole role) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter(async (ctx, next) =>
            ctx.HttpContext.Items[ApiEndpoints.CallerKey] is ApiCaller caller && caller.Role < role
                ? Problems.Of(Problems.Forbidden, $"this needs a key with the {role.ToString().ToLowerInvariant()} role (this key is a {caller.Role.ToString().ToLowerInvariant()})")
                : await next(ctx));
}
