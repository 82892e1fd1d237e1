using Akka.Actor;
using Akka.Event;

namespace PromptActors.Prompts;

/// <summary>
/// One per node. Loads each prompt (and each pinned version) from the store once, however many callers ask at once,
/// and replies to every waiter. Failures are not cached: the next caller triggers a new load.
/// Pinned versions are immutable and stay cached; the "latest" entry is dropped by <see cref="InvalidatePrompt"/>.
/// </summary>
public sealed class PromptCacheActor : ReceiveActor
{
    private readonly IPromptStore _store;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<(string Id, int Version), Prompt> _byVersion = new();
    private readonly Dictionary<string, Prompt> _latest = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Id, int? Version), Pending> _pending = new();
    // Bumped by every invalidation, so a load that was in flight when the prompt changed is not cached as latest.
    private readonly Dictionary<string, long> _generation = new(StringComparer.Ordinal);

    private sealed class Pending(long generation)
    {
        public long Generation { get; } = generation;
        public List<IActorRef> Waiters { get; } = new();
    }

    private sealed record Loaded(string Id, int? Version, Prompt? Prompt, string? Error) : INoSerializationVerificationNeeded;

    public PromptCacheActor(IPromptStore store)
    {
        _store = store;

        Receive<GetPrompt>(Handle);
        Receive<Loaded>(OnLoaded);
        Receive<InvalidatePrompt>(msg =>
        {
            _latest.Remove(msg.PromptId);
            _generation[msg.PromptId] = Generation(msg.PromptId) + 1;
        });
    }

    public static Props Props(IPromptStore store) => Akka.Actor.Props.Create(() => new PromptCacheActor(store));

    private long Generation(string id) => _generation.TryGetValue(id, out var g) ? g : 0;

    private void Handle(GetPrompt msg)
    {
        if (msg.Version is { } v ? _byVersion.TryGetValue((msg.PromptId, v), out var hit) : _latest.TryGetValue(msg.PromptId, out hit))
        {
            Sender.Tell(new PromptFound(hit!));
            return;
        }

        var key = (msg.PromptId, msg.Version);
        if (_pending.TryGetValue(key, out var pending))
        {
            pending.Waiters.Add(Sender);
            return;
        }

        pending = new Pending(Generation(msg.PromptId));
        pending.Waiters.Add(Sender);
        _pending[key] = pending;
        var self = Self;
        _store.GetAsync(msg.PromptId, msg.Version).PipeTo(self,
            success: prompt => new Loaded(msg.PromptId, msg.Version, prompt, null),
            failure: e => new Loaded(msg.PromptId, msg.Version, null, e.GetBaseException().Message));
    }

    private void OnLoaded(Loaded loaded)
    {
        if (!_pending.Remove((loaded.Id, loaded.Version), out var pending))
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
            if (loaded.Version is null && pending.Generation == Generation(loaded.Id))
                _latest[prompt.Id] = prompt;
            reply = new PromptFound(prompt);
        }

        foreach (var waiter in pending.Waiters)
            waiter.Tell(reply);
    }
}
