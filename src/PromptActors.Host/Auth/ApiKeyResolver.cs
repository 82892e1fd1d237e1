using System.Collections.Concurrent;
using PromptActors.Access;

namespace PromptActors.Host.Auth;

/// <summary>
/// Finds the caller of a bearer key: a configured key first (in memory, constant time), then a key issued through
/// <c>/v1/keys</c>, looked up by its hash in the database. Each node keeps what it looked up for
/// <see cref="CacheFor"/> at most, so a key revoked on any node is refused on every node within a second; the node that
/// revokes forgets at once. When a key is used, its <c>last_used_at</c> is written at most once a minute per node.
/// </summary>
public sealed class ApiKeyResolver(ApiKeyStore configured, IApiKeyStore stored, TimeProvider time, ILogger<ApiKeyResolver> log)
{
    /// <summary>How long a node trusts what it looked up (a revocation's worst delay on another node, plus one query).</summary>
    public static readonly TimeSpan CacheFor = TimeSpan.FromMilliseconds(500);

    private const int MaxCached = 10_000; // random keys cannot grow it without bound
    private static readonly TimeSpan MarkUsedEvery = TimeSpan.FromMinutes(1);

    private readonly ConcurrentDictionary<string, (ApiCaller? Caller, long Until)> _cache = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, DateTimeOffset> _markedUsed = new(StringComparer.Ordinal);

    /// <summary>The caller, or null for a key that is unknown or revoked. Throws when the key store cannot be read.</summary>
    public async ValueTask<ApiCaller?> FindAsync(string key, CancellationToken cancellationToken)
    {
        if (configured.Find(key) is { } fromConfiguration)
            return fromConfiguration;
        var hash = ApiKeyHasher.Hash(key);
        var now = time.GetTimestamp();
        if (_cache.TryGetValue(hash, out var cached) && now < cached.Until)
            return cached.Caller;
        var row = await stored.FindByHashAsync(hash, cancellationToken);
        var caller = row is { RevokedAt: null } && ApiKeyEntry.IsRole(row.Role)
            ? new ApiCaller(row.Scope.UserId, row.Scope.OrgId, row.Scope.ProjectId, Enum.Parse<ApiRole>(row.Role, ignoreCase: true), row.Id)
            : null;
        if (_cache.Count >= MaxCached)
            _cache.Clear();
        _cache[hash] = (caller, now + (long)(CacheFor.TotalSeconds * time.TimestampFrequency));
        if (caller is not null)
            MarkUsed(row!);
        return caller;
    }

    /// <summary>Forgets every key this node looked up (after a revocation here: the next request reads the store).</summary>
    public void Forget() => _cache.Clear();

    private void MarkUsed(StoredApiKey row)
    {
        var now = time.GetUtcNow();
        if (row.LastUsedAt is { } last && now - last < MarkUsedEvery)
            return;
        if (_markedUsed.TryGetValue(row.Id, out var marked) && now - marked < MarkUsedEvery)
            return;
        _markedUsed[row.Id] = now;
        _ = Task.Run(async () =>
        {
            try
            {
                await stored.MarkUsedAsync(row.Id, now);
            }
            catch (Exception e)
            {
                log.LogDebug(e, "Recording the last use of key {KeyId} failed", row.Id);
            }
        });
    }
}
