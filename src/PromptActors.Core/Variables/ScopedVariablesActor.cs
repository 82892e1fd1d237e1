using Akka.Actor;
using Akka.Event;
using PromptActors.Caching;

namespace PromptActors.Variables;

/// <summary>
/// One per node. Caches user/org/project variable maps, each loaded once however many callers ask at once,
/// kept for a TTL (default 5 minutes) measured with the injected <see cref="TimeProvider"/>, and dropped on invalidation.
/// A caller that asks after an invalidation never joins a load that started before it: that load may have read the map
/// the write replaced.
/// </summary>
public sealed class ScopedVariablesActor : ReceiveActor
{
    private static readonly IReadOnlyDictionary<string, string> None = new Dictionary<string, string>();

    private readonly IScopedVariableStore _store;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly LoadOnceCache<ScopeKey, ScopeKey, IReadOnlyDictionary<string, string>, Request> _cache;

    private sealed class Request(IActorRef replyTo, InstanceScope scope)
    {
        public IActorRef ReplyTo { get; } = replyTo;
        public InstanceScope Scope { get; } = scope;
        public Dictionary<ScopeKey, IReadOnlyDictionary<string, string>> Values { get; } = new();
        public int Outstanding { get; set; }
        public bool Done { get; set; }
    }

    private sealed record Loaded(ScopeKey Key, long Generation, IReadOnlyDictionary<string, string>? Values, string? Error)
        : INoSerializationVerificationNeeded;

    public ScopedVariablesActor(IScopedVariableStore store, TimeProvider time, TimeSpan ttl)
    {
        _store = store;
        _cache = new(time, ttl, key => key);

        Receive<GetScopedVariables>(Handle);
        Receive<Loaded>(OnLoaded);
        Receive<InvalidateScopedVariables>(msg => _cache.Invalidate(new ScopeKey(msg.Kind, msg.ScopeId)));
    }

    public static Props Props(IScopedVariableStore store, TimeProvider time, TimeSpan ttl) =>
        Akka.Actor.Props.Create(() => new ScopedVariablesActor(store, time, ttl));

    private static IEnumerable<ScopeKey> KeysOf(InstanceScope scope)
    {
        yield return new ScopeKey(ScopeKind.User, scope.UserId);
        if (scope.OrgId is not null)
            yield return new ScopeKey(ScopeKind.Org, scope.OrgId);
        if (scope.ProjectId is not null)
            yield return new ScopeKey(ScopeKind.Project, scope.ProjectId);
    }

    private void Handle(GetScopedVariables msg)
    {
        var request = new Request(Sender, msg.Scope);
        foreach (var key in KeysOf(msg.Scope))
        {
            if (_cache.TryGet(key, out var fresh))
            {
                request.Values[key] = fresh;
                continue;
            }
            request.Outstanding++;
            if (!_cache.Join(key, request, out var generation))
                continue;
            var self = Self;
            var k = key;
            _store.GetAsync(key.Kind, key.ScopeId).PipeTo(self,
                success: values => new Loaded(k, generation, values, null),
                failure: e => new Loaded(k, generation, null, e.GetBaseException().Message));
        }
        if (request.Outstanding == 0)
            Complete(request);
    }

    private void OnLoaded(Loaded loaded)
    {
        // An invalidation during the load means the value may be stale: served to the waiters, not kept.
        var requests = _cache.Complete(loaded.Key, loaded.Generation, loaded.Values ?? None, keep: loaded.Error is null);
        if (loaded.Error is not null)
        {
            _log.Warning("Loading {0} variables of {1} failed: {2}", loaded.Key.Kind, loaded.Key.ScopeId, loaded.Error);
            foreach (var r in requests.Where(r => !r.Done))
            {
                r.Done = true;
                r.ReplyTo.Tell(new ScopedVariablesUnavailable(loaded.Error));
            }
            return;
        }

        var values = loaded.Values ?? None;
        foreach (var r in requests)
        {
            if (r.Done)
                continue;
            r.Values[loaded.Key] = values;
            r.Outstanding--;
            if (r.Outstanding == 0)
                Complete(r);
        }
    }

    private static void Complete(Request request)
    {
        request.Done = true;
        IReadOnlyDictionary<string, string> Get(ScopeKind kind, string? id) =>
            id is not null && request.Values.TryGetValue(new ScopeKey(kind, id), out var v) ? v : None;
        var s = request.Scope;
        request.ReplyTo.Tell(new ScopedVariableValues(
            Get(ScopeKind.User, s.UserId), Get(ScopeKind.Org, s.OrgId), Get(ScopeKind.Project, s.ProjectId)));
    }
}
