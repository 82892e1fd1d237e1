using System.Collections.Concurrent;
using PromptActors.Access;

namespace PromptActors.Testing;

/// <summary>Issued API keys in memory, for tests and embedders without a database.</summary>
public sealed class InMemoryApiKeyStore : IApiKeyStore
{
    private readonly ConcurrentDictionary<string, StoredApiKey> _byId = new(StringComparer.Ordinal);
    private readonly object _gate = new();

    public Task CreateAsync(StoredApiKey key, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (_byId.ContainsKey(key.Id) || _byId.Values.Any(k => k.KeyHash == key.KeyHash))
                throw new InvalidOperationException($"a key with id '{key.Id}' or the same hash exists");
            _byId[key.Id] = key;
        }
        return Task.CompletedTask;
    }

    public Task<StoredApiKey?> FindByHashAsync(string keyHash, CancellationToken cancellationToken = default) =>
        Task.FromResult(_byId.Values.FirstOrDefault(k => k.KeyHash == keyHash));

    public Task<IReadOnlyList<StoredApiKey>> ListAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult<IReadOnlyList<StoredApiKey>>(_byId.Values.OrderBy(k => k.CreatedAt).ThenBy(k => k.Id, StringComparer.Ordinal).ToList());

    public Task<bool> RevokeAsync(string id, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (!_byId.TryGetValue(id, out var key))
                return Task.FromResult(false);
            if (key.RevokedAt is null)
                _byId[id] = key with { RevokedAt = at };
            return Task.FromResult(true);
        }
    }

    public Task MarkUsedAsync(string id, DateTimeOffset at, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (_byId.TryGetValue(id, out var key) && (key.LastUsedAt is null || key.LastUsedAt < at))
                _byId[id] = key with { LastUsedAt = at };
        }
        return Task.CompletedTask;
    }
}
