using Akka.Actor;
using Akka.Event;

namespace PromptActors.Prompts;

/// <summary>
/// One per node. Loads each prompt (and each pinned version) from the store once, however many callers ask at once,
/// and replies to every waiter. Failures are not cached: the next caller triggers a new load.
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
    private readonly TimeProvider _time;
    private readonly TimeSpan _latestTtl;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<(string Id, int Version), Prompt> _byVersion = new();
    private readonly Dictionary<string, (Prompt Prompt, DateTimeOffset LoadedAt)> _latest = new(StringComparer.Ordinal);
    // Loads in flight, by the id's generation when they started; a pinned version's load uses generation 0.
    private readonly Dictionary<(string Id, int? Version, long Generation), List<IActorRef>> _pending = new();
    // Bumped by every invalidation, so a load that was in flight when the prompt changed is neither joined nor cached.
    private readonly Dictionary<string, long> _generation = new(StringComparer.Ordinal);

    private sealed record Loaded(string Id, int? Version, long Generation, Prompt? Prompt, string? Error)
        : INoSerializationVerificationNeeded;

    public PromptCacheActor(IPromptStore store, TimeProvider time, TimeSpan latestTtl)
    {
        _store = store;
        _time = time;
        _latestTtl = latestTtl;

        Receive<GetPrompt>(Handle);
        Receive<Loaded>(OnLoaded);
        Receive<InvalidatePrompt>(msg =>
        {
            _latest.Remove(msg.PromptId);
            _generation[msg.PromptId] = Generation(msg.PromptId) + 1;
        });
    }

    public static Props Props(IPromptStore store) => Props(store, TimeProvider.System, DefaultLatestTtl);

    public static Props Props(IPromptStore store, TimeProvider time, TimeSpan latestTtl) =>
        Akka.Actor.Props.Create(() => new PromptCacheActor(store, time, latestTtl));

    private long Generation(string id) => _generation.TryGetValue(id, out var g) ? g : 0;

    private bool TryCached(GetPrompt msg, out Prompt prompt)
    {
        if (msg.Version is { } v)
            return _byVersion.TryGetValue((msg.PromptId, v), out prompt!);
        if (_latest.TryGetValue(msg.PromptId, out var entry) && _time.GetUtcNow() - entry.LoadedAt < _latestTtl)
        {
            prompt = entry.Prompt;
            return true;
        }
        prompt = null!;
        return false;
    }

    private void Handle(GetPrompt msg)
    {
        if (TryCached(msg, out var hit))
        {
            Sender.Tell(new PromptFound(hit));
            return;
        }

        var generation = msg.Version is null ? Generation(msg.PromptId) : 0;
        var key = (msg.PromptId, msg.Version, generation);
        if (_pending.TryGetValue(key, out var waiters))
        {
            waiters.Add(Sender);
            return;
        }

        _pending[key] = [Sender];
        var self = Self;
        _store.GetAsync(msg.PromptId, msg.Version).PipeTo(self,
            success: prompt => new Loaded(msg.PromptId, msg.Version, generation, prompt, null),
            failure: e => new Loaded(msg.PromptId, msg.Version, generation, null, e.GetBaseException().Message));
    }

    private void OnLoaded(Loaded loaded)
    {
        if (!_pending.Remove((loaded.Id, loaded.Version, loaded.Generation), out var waiters))
            return;

        object reply;
        if (loaded.Error is not null)
        {
            _log.Warning("Loading prompt {0} (version {1}) failed: {2}", loaded.Id, loaded.Version, loaded.Error);
            reply = new PromptLoadFailed(loaded.Id, loaded.Version, loaded.Error);
        }
        else if (loaded.Prompt is null)
        {
            reply = new PromptNotFound(loaded.Id, loaded.Version);
        }
        else
        {
            var prompt = loaded.Prompt;
            _byVersion[(prompt.Id, prompt.Version)] = prompt;
            if (loaded.Version is null && loaded.Generation == Generation(loaded.Id))
                _latest[prompt.Id] = (prompt, _time.GetUtcNow());
            reply = new PromptFound(prompt);
        }

        foreach (var waiter in waiters)
            waiter.Tell(reply);
    }
}
