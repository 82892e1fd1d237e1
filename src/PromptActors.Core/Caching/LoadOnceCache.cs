namespace PromptActors.Caching;

/// <summary>
/// The bookkeeping of a node-local cache actor (prompts, scoped variables): each key is loaded once however many callers
/// ask at once, a loaded value is kept for a TTL measured with the injected <see cref="TimeProvider"/>, and an
/// invalidation drops a whole group of keys (a prompt id's lookups, one scope's map). A caller that asks after an
/// invalidation never joins a load that started before it, and that load's value is served to its own waiters but not
/// kept: it may have read what the write replaced. Not thread-safe: owned by one actor, which runs the loads itself.
/// </summary>
internal sealed class LoadOnceCache<TKey, TGroup, TValue, TWaiter>(TimeProvider time, TimeSpan ttl, Func<TKey, TGroup> groupOf)
    where TKey : notnull where TGroup : notnull
{
    private readonly Dictionary<TKey, (TValue Value, DateTimeOffset LoadedAt)> _entries = new();
    private readonly Dictionary<TGroup, HashSet<TKey>> _groups = new();
    private readonly Dictionary<TGroup, long> _generation = new();
    private readonly Dictionary<(TKey Key, long Generation), List<TWaiter>> _pending = new();

    /// <summary>The value of <paramref name="key"/> if it was loaded less than the TTL ago.</summary>
    public bool TryGet(TKey key, out TValue value) => TryGet(key, out value, out _);

    /// <summary>As <see cref="TryGet(TKey, out TValue)"/>, with when the value was loaded.</summary>
    public bool TryGet(TKey key, out TValue value, out DateTimeOffset loadedAt)
    {
        if (_entries.TryGetValue(key, out var entry) && (ttl == Timeout.InfiniteTimeSpan || time.GetUtcNow() - entry.LoadedAt < ttl))
        {
            value = entry.Value;
            loadedAt = entry.LoadedAt;
            return true;
        }
        value = default!;
        loadedAt = default;
        return false;
    }

    /// <summary>
    /// Adds <paramref name="waiter"/> to the load of <paramref name="key"/> of the current generation. True when no such
    /// load is in flight: the caller starts it and hands <paramref name="generation"/> back to <see cref="Complete"/>.
    /// </summary>
    public bool Join(TKey key, TWaiter waiter, out long generation)
    {
        generation = Generation(groupOf(key));
        if (_pending.TryGetValue((key, generation), out var waiters))
        {
            waiters.Add(waiter);
            return false;
        }
        _pending[(key, generation)] = [waiter];
        return true;
    }

    /// <summary>
    /// Ends a load: returns its waiters (none for a load this cache does not know) and keeps <paramref name="value"/>
    /// when <paramref name="keep"/> and no invalidation of the key's group came since the load started.
    /// </summary>
    public IReadOnlyList<TWaiter> Complete(TKey key, long generation, TValue value, bool keep)
    {
        if (!_pending.Remove((key, generation), out var waiters))
            return [];
        if (keep && generation == Generation(groupOf(key)))
            Put(key, value);
        return waiters;
    }

    /// <summary>Keeps <paramref name="value"/> as loaded now.</summary>
    public void Put(TKey key, TValue value)
    {
        _entries[key] = (value, time.GetUtcNow());
        var group = groupOf(key);
        if (!_groups.TryGetValue(group, out var keys))
            _groups[group] = keys = new HashSet<TKey>();
        keys.Add(key);
    }

    /// <summary>Drops every key of <paramref name="group"/>; loads in flight for it are no longer joined nor kept.</summary>
    public void Invalidate(TGroup group)
    {
        if (_groups.Remove(group, out var keys))
        {
            foreach (var key in keys)
                _entries.Remove(key);
        }
        _generation[group] = Generation(group) + 1;
    }

    private long Generation(TGroup group) => _generation.TryGetValue(group, out var g) ? g : 0;
}
