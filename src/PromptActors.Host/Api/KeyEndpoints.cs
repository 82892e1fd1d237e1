using System.Text.Json.Serialization;
using PromptActors.Access;
using PromptActors.Host.Auth;
using PromptActors.Prompts;
using PromptActors.Variables;

namespace PromptActors.Host.Api;

/// <summary><c>POST /v1/keys</c> {"name"?, "scope": {userId, orgId?, projectId?}, "role"}.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record IssueKeyBody(string? Name, ScopeBody? Scope, string? Role);

/// <summary>A key as listed: never its secret or hash. <c>source</c> is <c>api</c> (issued here) or <c>config</c>.</summary>
public sealed record KeyDto(string Id, string? Name, ScopeBody Scope, string Role, string Source, DateTimeOffset? CreatedAt,
    string? CreatedBy, DateTimeOffset? RevokedAt, DateTimeOffset? LastUsedAt);

/// <summary>The answer to an issue: the key itself, shown this once.</summary>
public sealed record IssuedKeyDto(string Id, string Key, string? Name, ScopeBody Scope, string Role, DateTimeOffset CreatedAt);

/// <summary>Keys managed through the API (admin keys only; with auth off, anyone, like every endpoint).</summary>
public static class KeyEndpoints
{
    private const int MaxNameLength = 200;

    public static void MapKeyEndpoints(this RouteGroupBuilder v1)
    {
        v1.MapPost("/keys", Issue).RequireRole(ApiRole.Admin);
        v1.MapGet("/keys", List).RequireRole(ApiRole.Admin);
        v1.MapDelete("/keys/{id}", Revoke).RequireRole(ApiRole.Admin);
    }

    private static async Task<IResult> Issue(IssueKeyBody? body, HttpContext http, IApiKeyStore store, TimeProvider? time,
        ILoggerFactory logs, CancellationToken ct)
    {
        var errors = new List<string>();
        if (body is null)
            return Problems.Of(ErrorCodes.ValidationFailed, "a body {\"scope\": {\"userId\": …}, \"role\": …} is required");
        if (body.Scope is null)
            errors.Add("scope is required (the user, and optionally org and project, the key acts for)");
        var scope = body.Scope is { } s ? new InstanceScope(s.UserId ?? "", s.OrgId, s.ProjectId) : null;
        if (scope is not null)
            errors.AddRange(scope.Validate());
        if (!ApiKeyEntry.IsRole(body.Role))
            errors.Add("role must be runner, editor or admin");
        if (body.Name is { Length: > MaxNameLength })
            errors.Add($"name must be at most {MaxNameLength} characters");
        if (errors.Count > 0)
            return Problems.Of(ErrorCodes.ValidationFailed, string.Join("; ", errors));

        var key = ApiKeyHasher.NewKey();
        var createdBy = http.Items[ApiEndpoints.CallerKey] is ApiCaller caller ? caller.KeyId : null;
        var stored = new StoredApiKey("key_" + Guid.NewGuid().ToString("N")[..20], ApiKeyHasher.Hash(key), body.Name, scope!,
            body.Role!.ToLowerInvariant(), Truncate((time ?? TimeProvider.System).GetUtcNow()), createdBy);
        await Store(() => store.CreateAsync(stored, ct));
        logs.CreateLogger("PromptActors.Host.Keys").LogInformation("Key {KeyId} ({Role}) issued by {CreatedBy}", stored.Id, stored.Role,
            createdBy ?? "(auth off)");
        return TypedResults.Created($"/v1/keys/{stored.Id}",
            new IssuedKeyDto(stored.Id, key, stored.Name, ToBody(stored.Scope), stored.Role, stored.CreatedAt));
    }

    private static async Task<IResult> List(IApiKeyStore store, ApiKeyStore configured, CancellationToken ct)
    {
        var issued = await Store(() => store.ListAsync(ct));
        var keys = configured.Entries.Select(e => new KeyDto(e.EffectiveId, null, new ScopeBody(e.UserId, e.OrgId, e.ProjectId),
                e.Role.ToLowerInvariant(), "config", null, null, null, null))
            .Concat(issued.Select(k => new KeyDto(k.Id, k.Name, ToBody(k.Scope), k.Role, "api", k.CreatedAt, k.CreatedBy, k.RevokedAt, k.LastUsedAt)));
        return TypedResults.Ok(new { keys });
    }

    private static async Task<IResult> Revoke(string id, IApiKeyStore store, ApiKeyStore configured, ApiKeyResolver resolver,
        HttpContext http, TimeProvider? time, ILoggerFactory logs, CancellationToken ct)
    {
        if (!PromptValidation.IsValidId(id))
            return Problems.Of(ErrorCodes.ValidationFailed, "the key id must be 1-128 letters, digits, '_', '-' or '.'");
        if (configured.Entries.Any(e => e.EffectiveId == id))
            return Problems.Of(ErrorCodes.ValidationFailed, $"key '{id}' is configured (PromptActors:Auth:ApiKeys): remove it there");
        if (!await Store(() => store.RevokeAsync(id, Truncate((time ?? TimeProvider.System).GetUtcNow()), ct)))
            return Problems.Of(Problems.KeyNotFound, $"key '{id}' does not exist");
        resolver.Forget();
        var by = http.Items[ApiEndpoints.CallerKey] is ApiCaller caller ? caller.KeyId : null;
        logs.CreateLogger("PromptActors.Host.Keys").LogInformation("Key {KeyId} revoked by {RevokedBy}", id, by ?? "(auth off)");
        return TypedResults.NoContent();
    }

    private static ScopeBody ToBody(InstanceScope scope) => new(scope.UserId, scope.OrgId, scope.ProjectId);

    /// <summary>PostgreSQL keeps microseconds: the answer shows the time as it is stored.</summary>
    private static DateTimeOffset Truncate(DateTimeOffset at) => new(at.UtcTicks - at.UtcTicks % 10, TimeSpan.Zero);

    /// <summary>A store failure is the caller's <c>503 store_unavailable</c>, not a 500.</summary>
    private static async Task<T> Store<T>(Func<Task<T>> call)
    {
        try
        {
            return await call();
        }
        catch (Exception e) when (e is not OperationCanceledException and not PromptActorsException)
        {
            throw new StoreUnavailableException("the key store is unavailable; nothing was changed");
        }
    }

    private static Task Store(Func<Task> call) => Store(async () =>
    {
        await call();
        return true;
    });
}
