using PromptActors.Variables;

namespace PromptActors.Access;

/// <summary>
/// An API key issued through the API. Only <see cref="KeyHash"/> (<c>sha256:</c> + the hex SHA-256 of the key) is kept;
/// the key itself is shown once. <see cref="Role"/> is <c>runner</c>, <c>editor</c> or <c>admin</c>.
/// </summary>
public sealed record StoredApiKey(
    string Id,
    string KeyHash,
    string? Name,
    InstanceScope Scope,
    string Role,
    DateTimeOffset CreatedAt,
    string? CreatedBy,
    DateTimeOffset? RevokedAt = null,
    DateTimeOffset? LastUsedAt = null);

/// <summary>
/// Where issued API keys live. Implementations: the in-memory store of PromptActors.Testing, the SQL store in
/// PromptActors.Persistence (table <c>api_keys</c>).
/// </summary>
public interface IApiKeyStore
{
    /// <summary>Stores a new key; its id and hash must be new.</summary>
    Task CreateAsync(StoredApiKey key, CancellationToken cancellationToken = default);

    /// <summary>The key with this hash, revoked or not; null when there is none.</summary>
    Task<StoredApiKey?> FindByHashAsync(string keyHash, CancellationToken cancellationToken = default);

    /// <summary>Every key, revoked ones included, oldest first.</summary>
    Task<IReadOnlyList<StoredApiKey>> ListAsync(CancellationToken cancellationToken = default);

    /// <summary>Revokes the key (a revoked key keeps its first revocation time); false when there is no such key.</summary>
    Task<bool> RevokeAsync(string id, DateTimeOffset at, CancellationToken cancellationToken = default);

    /// <summary>Records that the key was used at <paramref name="at"/> (an earlier time never replaces a later one).</summary>
    Task MarkUsedAsync(string id, DateTimeOffset at, CancellationToken cancellationToken = default);
}
