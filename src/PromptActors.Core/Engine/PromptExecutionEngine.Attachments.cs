using PromptActors.Attachments;
using PromptActors.Instances;

namespace PromptActors.Engine;

/// <summary>Messages with parts: their bytes stored before the message is sent, and read back by their owner.</summary>
public sealed partial class PromptExecutionEngine
{
    public async Task<MessageAccepted> SendAsync(string instanceId, MessageInput message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        var requestId = RequestIdOrNew(message.RequestId);
        var settings = CheckOverrides(message.Settings);
        var parts = await StorePartsAsync(instanceId, message.Parts, cancellationToken);
        return await SendCoreAsync(instanceId, UserText(message, parts), requestId, settings, parts, cancellationToken);
    }

    public async Task<StreamedMessage> SendStreamingAsync(string instanceId, MessageInput message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        var requestId = RequestIdOrNew(message.RequestId);
        var settings = CheckOverrides(message.Settings);
        var parts = await StorePartsAsync(instanceId, message.Parts, cancellationToken);
        return await SendStreamCoreAsync(instanceId, UserText(message, parts), requestId, settings, parts, cancellationToken);
    }

    public async Task<Attachment?> GetAttachmentAsync(string sha256, CancellationToken cancellationToken = default)
    {
        if (_services.Attachments is not { } store || !AttachmentHash.IsValid(sha256))
            return null;
        return _caller is { } caller
            ? await store.GetAsync(TenantIds.Tag(caller), sha256, cancellationToken)
            : await store.GetAnyAsync(sha256, cancellationToken);
    }

    /// <summary>A message with parts and no text is a user message all the same (its text is empty).</summary>
    private static string? UserText(MessageInput message, IReadOnlyList<MessagePart>? parts) =>
        parts is { Count: > 0 } ? message.UserInput ?? "" : message.UserInput;

    /// <summary>
    /// Checks the parts, then stores the bytes of image and file parts in the instance's scope (after making sure the
    /// caller may send to that instance: an unknown or foreign one is refused before anything is stored).
    /// </summary>
    private async Task<IReadOnlyList<MessagePart>?> StorePartsAsync(string instanceId, IReadOnlyList<PartInput>? parts,
        CancellationToken cancellationToken)
    {
        if (parts is not { Count: > 0 })
            return null;
        if (PartChecks.Check(parts, _options.Attachments, _settings.MaxInputBytes) is { } refused)
            throw refused.ToException();
        string? owner = null;
        IAttachmentStore? store = null;
        if (parts.Any(p => p.Data is not null))
        {
            store = _services.Attachments
                    ?? throw new ValidationFailedException("this engine keeps no images or files: no attachment store is configured");
            var view = await GetInstanceAsync(instanceId, cancellationToken); // instance_not_found for an unknown or foreign id
            owner = TenantIds.Tag(view.Scope);
        }
        var stored = new List<MessagePart>(parts.Count);
        foreach (var part in parts)
        {
            var mediaType = part.MediaType?.Trim().ToLowerInvariant();
            if (part.Data is { } data)
            {
                var sha = await store!.PutAsync(owner!, data, mediaType!, cancellationToken);
                stored.Add(new MessagePart(part.Type, Sha256: sha, MediaType: mediaType, Size: data.LongLength, Name: part.Name));
            }
            else
                stored.Add(new MessagePart(part.Type, part.Text, part.Url, MediaType: mediaType, Name: part.Name, SourceUrl: part.SourceUrl));
        }
        return stored;
    }
}
