using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace PromptActors.Host.Auth;

/// <summary>What a key may do (see docs/SECURITY.md). Each role includes the ones before it.</summary>
public enum ApiRole
{
    /// <summary>Start and talk to instances, read their runs and prompts, in the key's scope.</summary>
    Runner = 0,

    /// <summary>Also write prompts and read and write scope variables, in the key's scope.</summary>
    Editor = 1,

    /// <summary>Also the operations endpoints (<c>/metrics</c>, <c>/clusterz</c>, <c>/openapi</c>).</summary>
    Admin = 2,
}

/// <summary>One configured API key: only its hash is kept, with the scope it may act in and its role.</summary>
public sealed class ApiKeyEntry
{
    /// <summary>
    /// The key's id in lists and on task rows (never secret). Unset: <c>config-</c> and the first 12 hex digits of its hash.
    /// </summary>
    public string? Id { get; set; }

    public string EffectiveId => string.IsNullOrEmpty(Id) ? "config-" + KeyHash[7..Math.Min(KeyHash.Length, 19)] : Id;

    /// <summary><c>sha256:</c> followed by the hex SHA-256 of the key (see the <c>hash-key</c> command).</summary>
    public string KeyHash { get; set; } = "";
    public string UserId { get; set; } = "";
    public string? OrgId { get; set; }
    public string? ProjectId { get; set; }

    /// <summary><c>runner</c>, <c>editor</c> (the default: what a configured key could always do) or <c>admin</c>.</summary>
    public string Role { get; set; } = "editor";

    public ApiRole ParsedRole => Enum.Parse<ApiRole>(Role, ignoreCase: true);

    public static bool IsRole(string? role) =>
        role is not null && Enum.TryParse<ApiRole>(role, ignoreCase: true, out var parsed) && Enum.IsDefined(parsed)
        && !role.Any(char.IsDigit);
}

/// <summary><c>PromptActors:Auth</c></summary>
public sealed class AuthOptions
{
    public const string Section = "PromptActors:Auth";

    /// <summary>On unless turned off explicitly.</summary>
    public bool Enabled { get; set; } = true;

    public List<ApiKeyEntry> ApiKeys { get; set; } = new();

    /// <summary>
    /// Name of the environment variable holding the secret that signs stream tokens (every node of a cluster must share
    /// it); unset: each process draws its own.
    /// </summary>
    public string? StreamTokenSecretEnv { get; set; }

    /// <summary>Where the generated development key's hash is kept when no keys are configured.</summary>
    public string DevKeyFile { get; set; } = "data/dev-api-key.json";

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        for (var i = 0; i < ApiKeys.Count; i++)
        {
            var k = ApiKeys[i];
            if (!ApiKeyHasher.IsHash(k.KeyHash))
                errors.Add($"{Section}:ApiKeys:{i}:KeyHash must be 'sha256:' followed by 64 hex digits (run 'PromptActors.Host hash-key <key>')");
            if (!Prompts.PromptValidation.IsValidId(k.UserId))
                errors.Add($"{Section}:ApiKeys:{i}:UserId is required (1-128 letters, digits, '_', '-' or '.')");
            if (!ApiKeyEntry.IsRole(k.Role))
                errors.Add($"{Section}:ApiKeys:{i}:Role must be runner, editor or admin (was '{k.Role}')");
            if (!string.IsNullOrEmpty(k.Id) && !Prompts.PromptValidation.IsValidId(k.Id))
                errors.Add($"{Section}:ApiKeys:{i}:Id must be 1-128 letters, digits, '_', '-' or '.'");
        }
        return errors;
    }
}

/// <summary>Who is calling: the scope their key is bound to, what the key may do, and the key's id (never its secret).</summary>
public sealed record ApiCaller(string UserId, string? OrgId, string? ProjectId, ApiRole Role = ApiRole.Editor, string? KeyId = null)
{
    /// <summary>The whole scope the key acts in; instances, runs and scope variables must match all of it.</summary>
    public Variables.InstanceScope Scope => new(UserId, OrgId, ProjectId);
}

public static class ApiKeyHasher
{
    public static string Hash(string key) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    public static bool IsHash(string? value) =>
        value is { Length: 71 } && value.StartsWith("sha256:", StringComparison.Ordinal) && value[7..].All(Uri.IsHexDigit);

    public static string NewKey() => "pa_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
}

/// <summary>Resolves a bearer key to its caller by comparing hashes in constant time.</summary>
public sealed class ApiKeyStore
{
    private readonly List<(byte[] Hash, ApiCaller Caller)> _keys = new();

    public ApiKeyStore(IEnumerable<ApiKeyEntry> entries)
    {
        foreach (var e in entries)
        {
            _keys.Add((Convert.FromHexString(e.KeyHash[7..]), new ApiCaller(e.UserId, e.OrgId, e.ProjectId, e.ParsedRole, e.EffectiveId)));
            Entries.Add(e);
        }
    }

    public int Count => _keys.Count;

    /// <summary>The configured keys (hashes included: never shown).</summary>
    public List<ApiKeyEntry> Entries { get; } = new();

    public ApiCaller? Find(string key)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(key));
        ApiCaller? found = null;
        foreach (var (h, caller) in _keys)
        {
            if (CryptographicOperations.FixedTimeEquals(h, hash))
                found = caller;
        }
        return found;
    }

    /// <summary>
    /// With auth on and no key configured (the embedded default), a development key is generated once for user
    /// <c>local</c>; only its hash is stored. Returns the plain key when it was just generated, so it can be shown once.
    /// Processes starting together on one data folder take turns through an exclusive lock on a file beside it, so
    /// they agree on one key; the key file is written aside and moved into place, so it appears whole or not at all.
    /// A file that cannot be read as a key hash (damaged) is replaced by a new key.
    /// </summary>
    public static (ApiKeyStore Store, string? NewDevKey) Load(AuthOptions options)
    {
        if (!options.Enabled || options.ApiKeys.Count > 0)
            return (new ApiKeyStore(options.ApiKeys), null);
        var path = Path.GetFullPath(options.DevKeyFile);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var turn = TakeTurn(path + ".lock");
        if (File.Exists(path) && ReadDevKey(path) is { } stored)
        {
            stored.Role = "admin"; // the development key is the local operator's (files written before roles have none)
            stored.Id ??= "dev";
            return (new ApiKeyStore([stored]), null);
        }

        var key = ApiKeyHasher.NewKey();
        var entry = new ApiKeyEntry
        {
            Id = "dev", KeyHash = ApiKeyHasher.Hash(key), UserId = "local", OrgId = "local", ProjectId = "local", Role = "admin",
        };
        var aside = $"{path}.{Guid.NewGuid():N}.tmp";
        File.WriteAllText(aside, JsonSerializer.Serialize(entry, JsonSerializerOptions.Web));
        File.Move(aside, path, overwrite: true); // replaces only a damaged file: a good one was returned above
        return (new ApiKeyStore([entry]), key);
    }

    // FileShare.None is an exclusive advisory lock on Unix too (flock), between processes and within one.
    private static FileStream TakeTurn(string lockPath)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (waited.Elapsed < TimeSpan.FromSeconds(30))
            {
                Thread.Sleep(10); // start-up only: another process is writing the key file
            }
        }
    }

    private static ApiKeyEntry? ReadDevKey(string path)
    {
        try
        {
            var stored = JsonSerializer.Deserialize<ApiKeyEntry>(File.ReadAllText(path), JsonSerializerOptions.Web);
            return stored is not null && ApiKeyHasher.IsHash(stored.KeyHash) ? stored : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
