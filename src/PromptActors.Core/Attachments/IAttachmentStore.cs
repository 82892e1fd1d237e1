namespace PromptActors.Attachments;

/// <summary>An attachment's bytes and what they are.</summary>
public sealed record Attachment(string Sha256, string MediaType, byte[] Data);

/// <summary>
/// Binary message parts, stored once per owner and content (SHA-256 of the bytes). The owner is the tenant tag of the scope
/// the message was sent in (<c>TenantIds.Tag</c>): another tenant's identical bytes are a separate row it cannot read.
/// </summary>
public interface IAttachmentStore
{
    /// <summary>Stores <paramref name="data"/> for <paramref name="owner"/> unless it already has the same bytes; returns their SHA-256 (hex).</summary>
    Task<string> PutAsync(string owner, byte[] data, string mediaType, CancellationToken cancellationToken = default);

    /// <summary>The attachment of <paramref name="owner"/> with this hash; null when it has none (whoever else may).</summary>
    Task<Attachment?> GetAsync(string owner, string sha256, CancellationToken cancellationToken = default);

    /// <summary>The attachment with this hash of any owner (the unrestricted engine and host, without auth).</summary>
    Task<Attachment?> GetAnyAsync(string sha256, CancellationToken cancellationToken = default);
}

/// <summary>Hex SHA-256 of attachment bytes, as the stores key them.</summary>
public static class AttachmentHash
{
    public static string Of(byte[] data) => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(data));

    /// <summary>True for 64 lowercase hex digits.</summary>
    public static bool IsValid(string? sha256) =>
        sha256 is { Length: 64 } && sha256.All(c => c is (>= '0' and <= '9') or (>= 'a' and <= 'f'));
}
