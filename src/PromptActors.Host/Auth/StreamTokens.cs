using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace PromptActors.Host.Auth;

/// <summary>
/// Short-lived stream tokens for browsers' <c>EventSource</c>, which cannot send an <c>Authorization</c> header:
/// <c>POST /v1/instances/{id}/stream-tokens</c> gives a token for that one instance, valid for
/// <see cref="Lifetime"/>, accepted as <c>?access_token=</c> on <c>GET /v1/instances/{id}/stream</c> only. It carries the
/// key's scope and role, signed with HMAC-SHA256. The secret comes from the environment variable named by
/// <c>PromptActors:Auth:StreamTokenSecretEnv</c> (every node of a cluster must share it); without one each process
/// draws its own, so a token works only on the node that issued it. Tokens are never logged (the host keeps ASP.NET's
/// request-line logging, which would show the query, at Warning).
/// </summary>
public sealed class StreamTokens(byte[] secret, TimeProvider time)
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(1);

    private sealed record Payload(string I, string U, string? O, string? P, int R, long E);

    public static StreamTokens Create(AuthOptions options, TimeProvider time)
    {
        var configured = options.StreamTokenSecretEnv is { Length: > 0 } name ? Environment.GetEnvironmentVariable(name) : null;
        return new StreamTokens(configured is { Length: > 0 } s ? SHA256.HashData(Encoding.UTF8.GetBytes(s)) : RandomNumberGenerator.GetBytes(32),
            time);
    }

    /// <summary>A token for <paramref name="instanceId"/> acting as <paramref name="caller"/>, and when it expires.</summary>
    public (string Token, DateTimeOffset ExpiresAt) Issue(string instanceId, ApiCaller caller)
    {
        var expires = time.GetUtcNow() + Lifetime;
        var payload = JsonSerializer.SerializeToUtf8Bytes(new Payload(instanceId, caller.UserId, caller.OrgId, caller.ProjectId,
            (int)caller.Role, expires.ToUnixTimeSeconds()));
        return (Base64Url(payload) + "." + Base64Url(HMACSHA256.HashData(secret, payload)), expires);
    }

    /// <summary>The caller a token stands for, when it is genuine, unexpired and issued for <paramref name="instanceId"/>.</summary>
    public ApiCaller? Validate(string token, string instanceId)
    {
        var dot = token.IndexOf('.');
        if (dot <= 0 || !TryDecode(token[..dot], out var payload) || !TryDecode(token[(dot + 1)..], out var signature)
            || !CryptographicOperations.FixedTimeEquals(signature, HMACSHA256.HashData(secret, payload)))
            return null;
        Payload? p;
        try
        {
            p = JsonSerializer.Deserialize<Payload>(payload);
        }
        catch (JsonException)
        {
            return null;
        }
        if (p is null || p.I != instanceId || time.GetUtcNow().ToUnixTimeSeconds() >= p.E || !Enum.IsDefined((ApiRole)p.R))
            return null;
        return new ApiCaller(p.U, p.O, p.P, (ApiRole)p.R);
    }

    private static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static bool TryDecode(string text, out byte[] bytes)
    {
        var padded = text.Replace('-', '+').Replace('_', '/');
        padded += (padded.Length % 4) switch { 2 => "==", 3 => "=", _ => "" };
        bytes = new byte[padded.Length];
        return text.Length > 0 && Convert.TryFromBase64String(padded, bytes, out var written) && (bytes = bytes[..written]).Length > 0;
    }
}
