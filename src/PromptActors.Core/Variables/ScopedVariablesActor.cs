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

        /// <summary>Why one of the loads failed; the request is refused once all its loads have ended.</summary>
        public string? Error { get; set; }

        /// <summary>When the oldest value of the answer expires; null when a value is not one the cache keeps (not published).</summary>
        public DateTimeOffset? Until { get; set; } = DateTimeOffset.MaxValue;

        /// <summary>The view's generation of each map when it was loaded.</summary>
        public List<(ScopeKey Key, long Generation)> LoadedIn { get; } = new(3);

        public void Kept(ScopeKey key, DateTimeOffset loadedAt, TimeSpan ttl, long? loadedIn)
        {
            if (loadedIn is not { } generation)
            {
                Until = null;
                return;
            }
            var until = ttl == Timeout.InfiniteTimeSpan ? DateTimeOffset.MaxValue : loadedAt + ttl;
            if (Until is { } current && until < current)
                Until = until;
            LoadedIn.Add((key, generation));
        }
    }

    private sealed record Loaded(ScopeKey Key, long Generation, IReadOnlyDictionary<string, string>? Values, string? Error,
        long ViewGeneration) : INoSerializationVerificationNeeded;

    // The view's generation when the value kept for each key was loaded (an answer is published only when all are current).
    private readonly Dictionary<ScopeKey, long> _loadedIn = new();

    private readonly ScopedVariablesView? _view;
    private readonly TimeSpan _ttl;

    /// <param name="view">Where the answers are published for readers on other threads (null: none).</param>
    public ScopedVariablesActor(IScopedVariableStore store, TimeProvider time, TimeSpan ttl, ScopedVariablesView? view = null)
    {
        _store = store;
        _view = view;
        _ttl = ttl;
        _cache = new(time, ttl, key => key);

        Receive<GetScopedVariables>(Handle);
        Receive<Loaded>(OnLoaded);
        Receive<InvalidateScopedVariables>(msg =>
        {
            _cache.Invalidate(new ScopeKey(msg.Kind, msg.ScopeId));
            _loadedIn.Remove(new ScopeKey(msg.Kind, msg.ScopeId));
            _view?.Invalidate(new ScopeKey(msg.Kind, msg.ScopeId)); // (this node's saves did it already, before returning)
        });
    }

    public static Props Props(IScopedVariableStore store, TimeProvider time, TimeSpan ttl, ScopedVariablesView? view = null) =>
        Akka.Actor.Props.Create(() => new ScopedVariablesActor(store, time, ttl, view));

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
            if (_cache.TryGet(key, out var fresh, out var loadedAt))
            {
                request.Values[key] = fresh;
                request.Kept(key, loadedAt, _ttl, _loadedIn.TryGetValue(key, out var g) ? g : null);
                continue;
            }
            request.Outstanding++;
            if (!_cache.Join(key, request, out var generation))
                continue;
            var self = Self;
            var k = key;
            var viewGeneration = _view?.GenerationOf(key) ?? 0;
            _store.GetAsync(key.Kind, key.ScopeId).PipeTo(self,
                success: values => new Loaded(k, generation, values, null, viewGeneration),
                failure: e => new Loaded(k, generation, null, e.GetBaseException().Message, viewGeneration));
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
            // Refused only once all of a request's loads have ended, so a caller who is told the store failed and asks
            // again never joins a load of the failed request that is still in flight (and may fail too).
            _log.Warning("Loading {0} variables of {1} failed: {2}", loaded.Key.Kind, loaded.Key.ScopeId, loaded.Error);
            foreach (var r in requests.Where(r => !r.Done))
            {
                r.Error ??= loaded.Error;
                r.Outstanding--;
                if (r.Outstanding == 0)
                    Complete(r);
            }
            return;
        }

        var values = loaded.Values ?? None;
        // A load an invalidation overtook is served to its waiters but not kept, so not published either.
        var kept = _cache.TryGet(loaded.Key, out var keptValues, out var keptAt) && ReferenceEquals(keptValues, loaded.Values ?? None);
        if (kept)
            _loadedIn[loaded.Key] = loaded.ViewGeneration;
        foreach (var r in requests)
        {
            if (r.Done)
                continue;
            if (kept)
                r.Kept(loaded.Key, keptAt, _ttl, loaded.ViewGeneration);
            else
                r.Until = null;
            r.Values[loaded.Key] = values;
            r.Outstanding--;
            if (r.Outstanding == 0)
                Complete(r);
        }
    }

    private void Complete(Request request)
    {
        request.Done = true;
        if (request.Error is not null)
        {
            request.ReplyTo.Tell(new ScopedVariablesUnavailable(request.Error));
            return;
        }
        IReadOnlyDictionary<string, string> Get(ScopeKind kind, string? id) =>
            id is not null && request.Values.TryGetValue(new ScopeKey(kind, id), out var v) ? v : None;
        var s = request.Scope;
        var answer = new ScopedVariableValues(Get(ScopeKind.User, s.UserId), Get(ScopeKind.Org, s.OrgId), Get(ScopeKind.Project, s.ProjectId));
        if (request.Until is { } until)
            _view?.Publish(s, answer, until, request.LoadedIn);
        request.ReplyTo.Tell(answer);
    }
}
