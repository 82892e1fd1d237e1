using System.Collections.Concurrent;

namespace PromptActors.Variables;

/// <summary>
/// The node's scoped-variable answers, readable without a message: the <see cref="ScopedVariablesActor"/> publishes each
/// answer it gives from values it keeps (with the time the oldest of them expires) and clears them all on any
/// invalidation, so a reader sees exactly what the actor would answer then. An instance reads it before a turn and asks
/// the actor only when its scope is not there (the first turn, after a save, after the TTL): one ask, a stash and two
/// thread hops less per turn.
/// <para>A save on this node invalidates the view at once (<see cref="Invalidate"/>, before the save returns), so the
/// node reads its own writes. Each invalidation of a scope's map starts a new generation of that map; the actor publishes
/// an answer only when each of its maps was loaded in that map's current generation, so a load that an invalidation
/// overtook is never published.</para>
/// </summary>
public sealed class ScopedVariablesView(TimeProvider time, int maxScopes = 100_000)
{
    private readonly ConcurrentDictionary<InstanceScope, (ScopedVariableValues Values, DateTimeOffset Until)> _published = new();
    private readonly ConcurrentDictionary<ScopeKey, long> _generations = new();
    private readonly Lock _gate = new();

    /// <summary>How often <paramref name="key"/>'s map was invalidated; a load records it when it starts.</summary>
    public long GenerationOf(ScopeKey key) => _generations.GetValueOrDefault(key);

    /// <summary>The values the actor would answer for <paramref name="scope"/> now, when it published them and they are fresh.</summary>
    public bool TryGet(InstanceScope scope, out ScopedVariableValues values)
    {
        if (_published.TryGetValue(scope, out var entry) && time.GetUtcNow() < entry.Until)
        {
            values = entry.Values;
            return true;
        }
        values = null!;
        return false;
    }

    /// <summary>Publishes an answer whose maps were loaded in the generations given (refused when one of them is over).</summary>
    internal void Publish(InstanceScope scope, ScopedVariableValues values, DateTimeOffset until,
        IReadOnlyList<(ScopeKey Key, long Generation)> loadedIn)
    {
        lock (_gate)
        {
            foreach (var (key, generation) in loadedIn)
            {
                if (GenerationOf(key) != generation)
                    return;
            }
            if (_published.Count < maxScopes || _published.ContainsKey(scope))
                _published[scope] = (values, until);
        }
    }

    /// <summary>Starts a new generation of <paramref name="key"/>'s map and forgets the answers (a scope's variables were saved).</summary>
    public void Invalidate(ScopeKey key)
    {
        lock (_gate)
        {
            _generations.AddOrUpdate(key, 1, (_, g) => g + 1);
            _published.Clear(); // rare (a save of scoped variables): every answer is asked for again once
        }
    }
}
