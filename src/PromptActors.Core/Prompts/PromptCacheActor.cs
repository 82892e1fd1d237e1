using Akka.Actor;
using Akka.Event;
using PromptActors.Caching;

namespace PromptActors.Prompts;

/// <summary>
/// One per node. Loads each prompt (and each pinned version) from the store once, however many callers ask at once,
/// and replies to every waiter. A lookup names one owner's prompt, or a caller's scope to resolve the id in
/// (<see cref="PromptOwner.ResolutionOrder"/>); both are cached per lookup. Failures are not cached: the next caller triggers a new load.
/// Pinned versions are immutable and stay cached. The "latest" entry is dropped by <see cref="InvalidatePrompt"/>, and
/// is kept at most for a TTL, so a node that missed an invalidation (pub-sub delivers at most once) catches up.
/// A caller that asks after an invalidation never joins a load that started before it: that load may have read the
/// version the save replaced.
/// </summary>
public sealed class PromptCacheActor : ReceiveActor
{
    /// <summary>How long the latest version stays cached when <see cref="Props(IPromptStore)"/> is given no TTL.</summary>
    public static readonly TimeSpan DefaultLatestTtl = TimeSpan.FromMinutes(1);

    private readonly IPromptStore _store;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    // A lookup is one owner's prompt ("=owner") or a caller's resolution over its owners ("?user/org/project").
    // Pinned versions of one owner never change: kept for good.
    private readonly LoadOnceCache<(string Lookup, string Id, int? Version), string, Prompt, IActorRef> _pinned;
    // Everything that may change with a save (latest versions, resolutions): kept for the TTL, grouped by id so that an
    // invalidation drops them together.
    private readonly LoadOnceCache<(string Lookup, string Id, int? Version), string, Prompt, IActorRef> _latest;

    private sealed record Loaded(string Lookup, string Id, int? Version, bool Pinned, long Generation, Prompt? Prompt, string? Error)
        : INoSerializationVerificationNeeded;

    public PromptCacheActor(IPromptStore store, TimeProvider time, TimeSpan latestTtl)
    {
        _store = store;
        _pinned = new(time, Timeout.InfiniteTimeSpan, key => key.Id);
        _latest = new(time, latestTtl, key => key.Id);

        Receive<GetPrompt>(Handle);
        Receive<Loaded>(OnLoaded);
        Receive<InvalidatePrompt>(msg => _latest.Invalidate(msg.PromptId));
    }

    public static Props Props(IPromptStore store) => Props(store, TimeProvider.System, DefaultLatestTtl);

    public static Props Props(IPromptStore store, TimeProvider time, TimeSpan latestTtl) =>
        Akka.Actor.Props.Create(() => new PromptCacheActor(store, time, latestTtl));

    private static string Lookup(GetPrompt msg) => msg.ResolveFor is { } scope
        ? $"?{scope.UserId}/{scope.OrgId}/{scope.ProjectId}"
        : "=" + (msg.Owner ?? PromptOwner.BuiltIn);

    private void Handle(GetPrompt msg)
    {
        var key = (Lookup(msg), msg.PromptId, msg.Version);
        var pinned = msg.Version is not null && msg.ResolveFor is null;
        var cache = pinned ? _pinned : _latest;
        if (cache.TryGet(key, out var hit))
        {
            Sender.Tell(new PromptFound(hit));
            return;
        }
        if (!cache.Join(key, Sender, out var generation))
            return;

        var self = Self;
        var load = msg.ResolveFor is { } scope
            ? _store.ResolveAsync(scope, msg.PromptId, msg.Version)
            : _store.GetAsync(msg.Owner ?? PromptOwner.BuiltIn, msg.PromptId, msg.Version);
        load.PipeTo(self,
            success: prompt => new Loaded(key.Item1, msg.PromptId, msg.Version, pinned, generation, prompt, null),
            failure: e => new Loaded(key.Item1, msg.PromptId, msg.Version, pinned, generation, null, e.GetBaseException().Message));
    }

    private void OnLoaded(Loaded loaded)
    {
        var cache = loaded.Pinned ? _pinned : _latest;
        var waiters = cache.Complete((loaded.Lookup, loaded.Id, loaded.Version), loaded.Generation, loaded.Prompt!,
            keep: loaded.Prompt is not null);
        if (waiters.Count == 0)
            return;

        object reply;
        if (loaded.Error is not null)
        {
            _log.Warning("Loading prompt {0} (version {1}) failed: {2}", loaded.Id, loaded.Version, loaded.Error);
            reply = new PromptLoadFailed(loaded.Id, loaded.Version, loaded.Error);
        }
        else if (loaded.Prompt is not { } prompt)
            reply = new PromptNotFound(loaded.Id, loaded.Version);
        else
        {
            // Whatever the lookup, the version it found is that owner's pinned version from now on.
            _pinned.Put(("=" + prompt.OwnedBy, prompt.Id, prompt.Version), prompt);
            reply = new PromptFound(prompt);
        }

        foreach (var waiter in waiters)
            waiter.Tell(reply);
    }
}
