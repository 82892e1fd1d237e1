using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Akka.Actor;
using Akka.Cluster;
using Akka.Hosting;
using Microsoft.AspNetCore.Mvc;
using PromptActors.Engine;
using PromptActors.Host.Auth;
using PromptActors.Instances;
using PromptActors.Prompts;
using PromptActors.Variables;
using PromptActors.Streaming;

namespace PromptActors.Host.Api;

/// <summary>The HTTP contract of DESIGN §8.</summary>
public static partial class ApiEndpoints
{
    public const string CallerKey = "promptactors.caller";

    public static void MapPromptActorsApi(this WebApplication app)
    {
        app.MapGet("/healthz", () => TypedResults.Ok(new { status = "up" })).ExcludeFromDescription();
        app.MapGet("/readyz", Ready).ExcludeFromDescription();
        app.MapGet("/clusterz", ClusterView).ExcludeFromDescription();
        app.MapPrometheusScrapingEndpoint("/metrics").ExcludeFromDescription();

        var v1 = app.MapGroup("/v1").AddEndpointFilter(async (ctx, next) =>
        {
            try
            {
                return await next(ctx);
            }
            catch (PromptActorsException e)
            {
                return Problems.From(e);
            }
        });

        // Runners start and talk to instances and read runs and prompts; editors also write prompts and scope variables.
        v1.MapPut("/prompts/{id}", SavePrompt).RequireRole(ApiRole.Editor);
        v1.MapGet("/prompts", ListPrompts);
        v1.MapGet("/prompts/{id}", GetPrompt);
        v1.MapGet("/prompts/{id}/versions", GetPromptVersions);
        v1.MapPut("/scopes/{kind}/{scopeId}/variables", PutScopeVariables).RequireRole(ApiRole.Editor);
        v1.MapGet("/scopes/{kind}/{scopeId}/variables", GetScopeVariables).RequireRole(ApiRole.Editor);
        v1.MapPost("/instances", StartInstance);
        v1.MapGet("/instances/{id}", GetInstance);
        v1.MapGet("/instances/{id}/history", GetHistory);
        v1.MapPost("/instances/{id}/fork", Fork);
        v1.MapPatch("/instances/{id}/variables", PatchVariables);
        v1.MapPost("/instances/{id}/messages", PostMessage);
        v1.MapGet("/instances/{id}/stream", Stream);
        v1.MapPost("/instances/{id}/stream-tokens", IssueStreamToken);
        v1.MapPost("/instances/{id}/cancel", Cancel);
        v1.MapPost("/instances/{id}/approvals/{callId}", DecideToolCall);
        v1.MapPost("/instances/{id}/tool-results", PostToolResults);
        v1.MapDelete("/instances/{id}", Delete);
        v1.MapGet("/attachments/{sha256}", GetAttachment);
        v1.MapGet("/runs/{runId}", GetRun);
        v1.MapGet("/runs", ListRuns);
        v1.MapKeyEndpoints();
    }

    private static ApiCaller? Caller(HttpContext http) => http.Items[CallerKey] as ApiCaller;

    /// <summary>
    /// The engine acting for the request's key: the engine itself checks every instance, run and scope against the key's
    /// whole scope (user, org and project), in the same hop as the command. Without auth the engine is unrestricted.
    /// </summary>
    private static IPromptExecutionEngine For(HttpContext http, IPromptExecutionEngine engine) =>
        Caller(http) is { } caller ? engine.ForCaller(caller.Scope, caller.KeyId) : engine;

    private static async Task<IResult> Ready(ActorSystem system, IPromptStore store, CancellationToken ct)
    {
        var member = Cluster.Get(system).SelfMember;
        if (member.Status != MemberStatus.Up)
            return Problems.Of(ErrorCodes.StoreUnavailable, $"cluster member is {member.Status}, not Up");
        try
        {
            await store.GetAsync("readyz-probe", null, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return Problems.Of(ErrorCodes.StoreUnavailable, "the database is not reachable");
        }
        // The database may answer while the journal's circuit breaker still refuses every recovery and write.
        if (await PersistenceHealth.ProbeAsync(system, TimeSpan.FromSeconds(3), ct) is { } journal)
            return Problems.Of(ErrorCodes.StoreUnavailable, journal);
        return TypedResults.Ok(new { status = "ready", member = member.Status.ToString() });
    }

    /// <summary>
    /// This node's view of the cluster: its address, the members and their status, the unreachable ones, and the shard
    /// regions the coordinator knows (<c>GetCurrentRegions</c>). <c>ready</c> is true when every Up member hosts a
    /// registered region, i.e. any node can route to any instance (what scripts/cluster.sh and the cluster tests wait for).
    /// </summary>
    private static async Task<IResult> ClusterView(ActorSystem system, IRequiredActor<ExecutionInstanceActor> instances)
    {
        var cluster = Cluster.Get(system);
        var state = cluster.State;
        string[] regions;
        string? regionsError = null;
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        try
        {
            var current = await (await instances.GetAsync(wait.Token)).Ask<Akka.Cluster.Sharding.CurrentRegions>(
                Akka.Cluster.Sharding.GetCurrentRegions.Instance, TimeSpan.FromSeconds(3));
            regions = current.Regions.Select(a => a.ToString()).Order(StringComparer.Ordinal).ToArray();
        }
        catch (Exception e) when (e is AskTimeoutException or InvalidOperationException or OperationCanceledException)
        {
            regions = [];
            regionsError = e.Message;
        }
        var members = state.Members.Select(m => new
        {
            address = m.Address.ToString(),
            status = m.Status.ToString(),
            roles = m.Roles.Order(StringComparer.Ordinal).ToArray(),
            reachable = !state.Unreachable.Contains(m),
        }).OrderBy(m => m.address, StringComparer.Ordinal).ToArray();
        var up = members.Where(m => m.status == nameof(MemberStatus.Up)).Select(m => m.address).ToArray();
        var ready = cluster.SelfMember.Status == MemberStatus.Up && state.Unreachable.Count == 0
                    && up.All(a => regions.Contains(a, StringComparer.Ordinal));
        return TypedResults.Ok(new
        {
            self = cluster.SelfAddress.ToString(),
            selfStatus = cluster.SelfMember.Status.ToString(),
            leader = state.Leader?.ToString(),
            ready,
            members,
            regions,
            regionsError,
        });
    }

    // ------------------------------------------------------------- prompts

    /// <summary>
    /// Saves into one of the key's scopes: <c>?scope=user|org|project</c>, its narrowest (project → org → user) when none is
    /// named. Without auth the prompt is a built-in.
    /// </summary>
    private static async Task<IResult> SavePrompt(string id, string? scope, [FromBody] PromptBody body, HttpContext http,
        IPromptExecutionEngine engine, CancellationToken ct)
    {
        var caller = Caller(http);
        PromptOwner? owner = null;
        if (scope is not null)
        {
            if (caller is null)
                return Problems.Of(ErrorCodes.ValidationFailed, "scope needs an API key: without auth every prompt is a built-in");
            var kind = PromptOwner.ParseKind(scope);
            if (kind is null or PromptOwnerKind.BuiltIn)
                return Problems.Of(ErrorCodes.ValidationFailed, "scope must be user, org or project");
            var scopeId = kind switch
            {
                PromptOwnerKind.User => caller.UserId,
                PromptOwnerKind.Org => caller.OrgId,
                _ => caller.ProjectId,
            };
            if (scopeId is null)
                return Problems.Of(ErrorCodes.ValidationFailed, $"this API key is bound to no {scope}");
            owner = new PromptOwner(kind.Value, scopeId);
        }
        var errors = new List<string>();
        var definition = body.ToDefinition(id, errors);
        errors.AddRange(PromptValidation.Validate(definition));
        if (errors.Count > 0)
            return Problems.Of(ErrorCodes.ValidationFailed, string.Join("; ", errors.Distinct()));
        var saved = await For(http, engine).SavePromptAsync(definition, owner, ct);
        return TypedResults.Ok(PromptDto.From(saved));
    }

    private static async Task<IResult> GetPrompt(string id, int? version, HttpContext http, IPromptExecutionEngine engine, CancellationToken ct)
    {
        if (version is < 1)
            return Problems.Of(ErrorCodes.ValidationFailed, "version must be 1 or more");
        var prompt = await For(http, engine).GetPromptAsync(id, version, ct);
        return prompt is null
            ? Problems.Of(ErrorCodes.PromptNotFound, version is null ? $"prompt '{id}' does not exist" : $"prompt '{id}' has no version {version}")
            : TypedResults.Ok(PromptDto.From(prompt));
    }

    private static async Task<IResult> ListPrompts(int? limit, HttpContext http, IPromptExecutionEngine engine, CancellationToken ct)
    {
        if (limit is < 1 or > PromptExecutionEngine.MaxPromptList)
            return Problems.Of(ErrorCodes.ValidationFailed, $"limit must be between 1 and {PromptExecutionEngine.MaxPromptList}");
        var prompts = await For(http, engine).ListPromptsAsync(limit ?? 100, ct);
        return TypedResults.Ok(new { prompts = prompts.Select(PromptDto.From) });
    }

    /// <summary>Every version of a prompt, newest first (the console diffs them); an id the caller does not see is 404.</summary>
    private static async Task<IResult> GetPromptVersions(string id, int? limit, HttpContext http, IPromptExecutionEngine engine,
        CancellationToken ct)
    {
        if (limit is < 1 or > PromptExecutionEngine.MaxPromptList)
            return Problems.Of(ErrorCodes.ValidationFailed, $"limit must be between 1 and {PromptExecutionEngine.MaxPromptList}");
        var versions = await For(http, engine).GetPromptVersionsAsync(id, limit ?? 100, ct);
        return versions.Count == 0
            ? Problems.Of(ErrorCodes.PromptNotFound, $"prompt '{id}' does not exist")
            : TypedResults.Ok(new { promptId = id, versions = versions.Select(PromptDto.From) });
    }

    // ------------------------------------------------------------- scope variables

    private static bool TryScope(string kind, string scopeId, ApiCaller? caller, out ScopeKind scopeKind, out IResult? problem)
    {
        problem = null;
        // Exact names only: Enum.TryParse would also take "1" or "user,org" (a combination that means org).
        ScopeKind? parsed = kind.ToLowerInvariant() switch
        {
            "user" => ScopeKind.User,
            "org" => ScopeKind.Org,
            "project" => ScopeKind.Project,
            _ => null,
        };
        scopeKind = parsed ?? default;
        if (parsed is null)
        {
            problem = Problems.Of(ErrorCodes.ValidationFailed, "scope kind must be user, org or project");
            return false;
        }
        var own = caller is null || scopeKind switch
        {
            ScopeKind.User => caller.UserId == scopeId,
            ScopeKind.Org => caller.OrgId == scopeId,
            _ => caller.ProjectId == scopeId,
        };
        if (!own)
        {
            problem = Problems.Of(Problems.NotFound, $"{kind} scope '{scopeId}' was not found");
            return false;
        }
        return true;
    }

    private static async Task<IResult> PutScopeVariables(string kind, string scopeId, [FromBody] Dictionary<string, string?> values,
        HttpContext http, IPromptExecutionEngine engine, CancellationToken ct)
    {
        if (!TryScope(kind, scopeId, Caller(http), out var scopeKind, out var problem))
            return problem!;
        if (values.Any(kv => kv.Value is null))
            return Problems.Of(ErrorCodes.ValidationFailed, "variable values must be strings");
        var map = values.ToDictionary(kv => kv.Key, kv => kv.Value!, StringComparer.Ordinal);
        await For(http, engine).SetScopeVariablesAsync(scopeKind, scopeId, map, ct);
        return TypedResults.Ok(map);
    }

    private static async Task<IResult> GetScopeVariables(string kind, string scopeId, HttpContext http, IPromptExecutionEngine engine,
        CancellationToken ct)
    {
        if (!TryScope(kind, scopeId, Caller(http), out var scopeKind, out var problem))
            return problem!;
        return TypedResults.Ok(await For(http, engine).GetScopeVariablesAsync(scopeKind, scopeId, ct));
    }

    // ------------------------------------------------------------- instances

    private static async Task<IResult> StartInstance([FromBody] StartInstanceBody body, HttpContext http, IPromptExecutionEngine engine,
        HostMetrics metrics, CancellationToken ct)
    {
        var caller = Caller(http);
        InstanceScope scope;
        if (caller is null)
        {
            if (body.Scope?.UserId is null)
                return Problems.Of(ErrorCodes.ValidationFailed, "scope.userId is required");
            scope = new InstanceScope(body.Scope.UserId, body.Scope.OrgId, body.Scope.ProjectId);
        }
        else
        {
            // A key acts in its own scope: omitted parts are filled from the key, other values are refused.
            var s = body.Scope;
            if ((s?.UserId is { } u && u != caller.UserId) || (s?.OrgId is { } o && o != caller.OrgId)
                || (s?.ProjectId is { } p && p != caller.ProjectId))
                return Problems.Of(Problems.Forbidden, "this API key may only start instances in its own scope");
            scope = new InstanceScope(caller.UserId, s?.OrgId ?? caller.OrgId, s?.ProjectId ?? caller.ProjectId);
        }
        if (string.IsNullOrEmpty(body.PromptId))
            return Problems.Of(ErrorCodes.ValidationFailed, "promptId is required");
        var source = body.Source is null ? null : new RunSource(body.Source.Type!, body.Source.Id!);
        var view = await For(http, engine).StartInstanceAsync(new StartInstanceRequest(body.PromptId, scope, body.Variables,
            body.ExecutionConfig?.ToConfig(), source, body.RunName, body.Retain, body.PromptVersion, body.InstanceId,
            ClientTools: body.ClientTools?.Select(t => t?.ToClientTool()!).ToArray()), ct);
        metrics.InstanceStarted();
        return TypedResults.Created($"/v1/instances/{view.InstanceId}", InstanceDto.From(view));
    }

    private static async Task<IResult> GetInstance(string id, HttpContext http, IPromptExecutionEngine engine, CancellationToken ct) =>
        TypedResults.Ok(InstanceDto.From(await For(http, engine).GetInstanceAsync(id, ct)));

    /// <summary>JSON merge patch: a string sets a variable, null removes it.</summary>
    private static async Task<IResult> PatchVariables(string id, [FromBody] Dictionary<string, JsonElement> patch, HttpContext http,
        IPromptExecutionEngine engine, CancellationToken ct)
    {
        var set = new Dictionary<string, string>(StringComparer.Ordinal);
        var remove = new List<string>();
        foreach (var (name, value) in patch)
        {
            switch (value.ValueKind)
            {
                case JsonValueKind.String:
                    set[name] = value.GetString()!;
                    break;
                case JsonValueKind.Null:
                    remove.Add(name);
                    break;
                default:
                    return Problems.Of(ErrorCodes.ValidationFailed, $"variable '{name}' must be a string (or null to remove it)");
            }
        }
        return TypedResults.Ok(InstanceDto.From(await For(http, engine).UpdateVariablesAsync(id, set, remove, ct)));
    }

    private static async Task<IResult> Cancel(string id, HttpContext http, IPromptExecutionEngine engine, CancellationToken ct)
    {
        var result = await For(http, engine).CancelAsync(id, ct);
        return TypedResults.Ok(new { taskId = result.TaskId, cancelled = result.Cancelled });
    }

    private static async Task<IResult> Delete(string id, HttpContext http, IPromptExecutionEngine engine, CancellationToken ct)
    {
        await For(http, engine).CleanupAsync(id, ct);
        return TypedResults.NoContent();
    }

    // ------------------------------------------------------------- runs

    private static async Task<IResult> GetRun(string runId, HttpContext http, IPromptExecutionEngine engine, CancellationToken ct)
    {
        var run = await For(http, engine).GetRunAsync(runId, ct);
        if (run is null)
            return Problems.Of(Problems.RunNotFound, $"run '{runId}' was not found");
        return TypedResults.Ok(RunDto.From(run, withTasks: true));
    }

    private const int MaxRunListLimit = 1000;

    private static async Task<IResult> ListRuns(string? userId, int? limit, HttpContext http, IPromptExecutionEngine engine, CancellationToken ct)
    {
        var caller = Caller(http);
        var who = userId ?? caller?.UserId;
        if (who is null)
            return Problems.Of(ErrorCodes.ValidationFailed, "userId is required");
        if (caller is not null && who != caller.UserId)
            return Problems.Of(Problems.Forbidden, "this API key may only list its own runs");
        if (limit is < 1 or > MaxRunListLimit)
            return Problems.Of(ErrorCodes.ValidationFailed, $"limit must be between 1 and {MaxRunListLimit}");
        var runs = await For(http, engine).ListRunsAsync(who, limit ?? 100, ct);
        return TypedResults.Ok(new { runs = runs.Select(r => RunDto.From(r, withTasks: false)) });
    }
}
