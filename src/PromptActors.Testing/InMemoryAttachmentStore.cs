using System.Collections.Concurrent;
using PromptActors.Attachments;

namespace PromptActors.Testing;

/// <summary>Attachments in memory, one copy per owner and content (tests, demos; nothing survives the process).</summary>
public sealed class InMemoryAttachmentStore : IAttachmentStore
{
    private readonly ConcurrentDictionary<(string Owner, string Sha), Attachment> _rows = new();

    /// <summary>How many rows are stored (an owner's same bytes twice are one).</summary>
    public int Count => _rows.Count;

    public Task<string> PutAsync(string owner, byte[] data, string mediaType, CancellationToken cancellationToken = default)
    {
        var sha = AttachmentHash.Of(data);
        _rows.TryAdd((owner, sha), new Attachment(sha, mediaType, data.ToArray()));
        return Task.FromResult(sha);
    }

    public Task<Attachment?> GetAsync(string owner, string sha256, CancellationToken cancellationToken = default) =>
        Task.FromResult(_rows.TryGetValue((owner, sha256), out var a) ? a : null);

    public Task<Attachment?> GetAnyAsync(string sha256, CancellationToken cancellationToken = default) =>
        Task.FromResult<Attachment?>(_rows.FirstOrDefault(r => r.Key.Sha == sha256).Value);
}
