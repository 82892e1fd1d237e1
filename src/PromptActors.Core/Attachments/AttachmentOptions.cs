namespace PromptActors.Attachments;

/// <summary>What a message may carry (<c>PromptActors:Attachments</c>).</summary>
public sealed class AttachmentOptions
{
    /// <summary>Largest image or file part, in bytes (decoded).</summary>
    public long MaxPartBytes { get; set; } = 10 * 1024 * 1024;

    /// <summary>Largest total of a message's image and file parts, in bytes.</summary>
    public long MaxMessageBytes { get; set; } = 20 * 1024 * 1024;

    /// <summary>Most parts in one message.</summary>
    public int MaxParts { get; set; } = 16;

    public static readonly IReadOnlyList<string> DefaultImageMediaTypes = ["image/png", "image/jpeg", "image/gif", "image/webp"];

    public static readonly IReadOnlyList<string> DefaultFileMediaTypes =
        ["application/pdf", "text/plain", "text/markdown", "text/csv", "application/json"];

    /// <summary>Media types an image part may have (unset: <see cref="DefaultImageMediaTypes"/>; set, it replaces them).</summary>
    public List<string>? ImageMediaTypes { get; set; }

    /// <summary>Media types a file part may have (unset: <see cref="DefaultFileMediaTypes"/>; set, it replaces them).</summary>
    public List<string>? FileMediaTypes { get; set; }

    internal IReadOnlyList<string> Images => ImageMediaTypes ?? DefaultImageMediaTypes;

    internal IReadOnlyList<string> Files => FileMediaTypes ?? DefaultFileMediaTypes;

    public IEnumerable<string> Validate(string section)
    {
        if (MaxPartBytes < 1)
            yield return $"{section}:MaxPartBytes must be positive (was {MaxPartBytes})";
        if (MaxMessageBytes < 1)
            yield return $"{section}:MaxMessageBytes must be positive (was {MaxMessageBytes})";
        if (MaxParts is < 1 or > 1000)
            yield return $"{section}:MaxParts must be between 1 and 1000 (was {MaxParts})";
        foreach (var type in Images.Concat(Files))
        {
            if (!PartChecks.IsMediaType(type))
                yield return $"{section}: '{type}' is not a media type (type/subtype)";
        }
    }
}
