using Microsoft.Extensions.AI;

namespace PromptActors.Attachments;

/// <summary>
/// An image or file part in a built request before its bytes are loaded: the instance builds the turn's messages on its
/// own thread, and the model call (on a pool thread) swaps each for a <see cref="DataContent"/> just before it calls the
/// provider (<see cref="AttachmentSource"/>).
/// </summary>
public sealed class AttachmentReference(MessagePart part) : AIContent
{
    public MessagePart Part { get; } = part;
}

/// <summary>Loads the bytes of an instance's image and file parts from its scope's attachments.</summary>
public sealed class AttachmentSource(IAttachmentStore store, string owner)
{
    /// <summary>True when a message of <paramref name="messages"/> has an image or file part still to load.</summary>
    public static bool Refers(IReadOnlyList<ChatMessage> messages)
    {
        foreach (var m in messages)
        {
            foreach (var c in m.Contents)
            {
                if (c is AttachmentReference)
                    return true;
            }
        }
        return false;
    }

    /// <summary>The messages with every <see cref="AttachmentReference"/> replaced by its bytes (a copy; the input is kept).</summary>
    public async Task<IReadOnlyList<ChatMessage>> ResolveAsync(IReadOnlyList<ChatMessage> messages, CancellationToken cancellationToken)
    {
        var loaded = new Dictionary<string, Attachment>(StringComparer.Ordinal);
        var result = new List<ChatMessage>(messages.Count);
        foreach (var message in messages)
        {
            if (!message.Contents.Any(c => c is AttachmentReference))
            {
                result.Add(message);
                continue;
            }
            var contents = new List<AIContent>(message.Contents.Count);
            foreach (var content in message.Contents)
            {
                if (content is not AttachmentReference { Part: var part })
                {
                    contents.Add(content);
                    continue;
                }
                var sha = part.Sha256!;
                if (!loaded.TryGetValue(sha, out var attachment))
                {
                    attachment = await store.GetAsync(owner, sha, cancellationToken).ConfigureAwait(false)
                                 ?? throw new InvalidOperationException($"attachment {sha} is not in the attachment store");
                    loaded[sha] = attachment;
                }
                contents.Add(ToContent(part, attachment));
            }
            result.Add(new ChatMessage(message.Role, contents) { AuthorName = message.AuthorName });
        }
        return result;
    }

    /// <summary>
    /// Images and binary files as <see cref="DataContent"/>; a text file (text/*, JSON) as its text under a header naming it,
    /// which every provider reads (chat APIs take images and PDFs as parts, but not text files).
    /// </summary>
    private static AIContent ToContent(MessagePart part, Attachment attachment)
    {
        var mediaType = part.MediaType ?? attachment.MediaType;
        if (part.Type == PartTypes.File && (mediaType.StartsWith("text/", StringComparison.Ordinal) || mediaType == "application/json"))
            return new TextContent($"[file{(part.Name is { } name ? " " + name : "")} ({mediaType})]\n"
                                   + System.Text.Encoding.UTF8.GetString(attachment.Data));
        return new DataContent(attachment.Data, mediaType) { Name = part.Name };
    }
}

/// <summary>How a message's parts are given to a model.</summary>
public static class PartContents
{
    /// <summary>
    /// The contents for <paramref name="parts"/>: text parts as text, notes and web pages as text under a short header
    /// (the original design's resources), an image at a URL as <see cref="UriContent"/>, stored bytes as an
    /// <see cref="AttachmentReference"/> (loaded before the call).
    /// </summary>
    public static void Add(List<AIContent> contents, IReadOnlyList<MessagePart> parts)
    {
        foreach (var part in parts)
        {
            switch (part.Type)
            {
                case PartTypes.Note:
                    contents.Add(new TextContent($"[note{(part.Name is { } n ? ": " + n : "")}]\n{part.Text}"));
                    break;
                case PartTypes.Webpage:
                    contents.Add(new TextContent($"[webpage {part.SourceUrl}{(part.Name is { } t ? " \"" + t + "\"" : "")}]\n{part.Text}"));
                    break;
                case PartTypes.Image when part.Url is { } url:
                    contents.Add(new UriContent(new Uri(url), part.MediaType ?? "image/*"));
                    break;
                case PartTypes.Image or PartTypes.File when part.IsStored:
                    contents.Add(new AttachmentReference(part));
                    break;
                default:
                    if (part.Text is { } text)
                        contents.Add(new TextContent(text));
                    break;
            }
        }
    }

    /// <summary>Characters of the parts' text (what counts against the turn's size limit; bytes of stored parts do not).</summary>
    public static long TextLength(IReadOnlyList<MessagePart>? parts) =>
        parts?.Sum(p => (long)(p.Text?.Length ?? 0) + (p.Url?.Length ?? 0)) ?? 0;
}
