namespace PromptActors.Attachments;

/// <summary>The checks of a message's parts, before anything is stored: the first refusal, with its code, or null.</summary>
public static class PartChecks
{
    private const int MaxUrlLength = 2048;
    private const int MaxNameLength = 256;

    public static Rejected? Check(IReadOnlyList<PartInput>? parts, AttachmentOptions options, int maxTextBytes)
    {
        if (parts is null)
            return null;
        if (parts.Count > options.MaxParts)
            return Invalid($"a message may have at most {options.MaxParts} parts");
        long total = 0;
        for (var i = 0; i < parts.Count; i++)
        {
            var part = parts[i];
            var at = $"parts[{i}]";
            if (part is null)
                return Invalid($"{at} is empty");
            if (Field(part, at, maxTextBytes, options) is { } refused)
                return refused;
            total += part.Data?.LongLength ?? 0;
        }
        return total > options.MaxMessageBytes
            ? new Rejected(ErrorCodes.PayloadTooLarge,
                $"the message's images and files are {total} bytes together, more than the limit of {options.MaxMessageBytes}")
            : null;
    }

    private static Rejected? Field(PartInput part, string at, int maxTextBytes, AttachmentOptions options)
    {
        if (part.Name is { Length: > MaxNameLength })
            return Invalid($"{at}.name is longer than {MaxNameLength} characters");
        switch (part.Type)
        {
            case PartTypes.Text or PartTypes.Note or PartTypes.Webpage:
                if (string.IsNullOrWhiteSpace(part.Text))
                    return Invalid($"{at}.text is required for a {part.Type} part");
                if (System.Text.Encoding.UTF8.GetByteCount(part.Text) > maxTextBytes)
                    return new Rejected(ErrorCodes.PayloadTooLarge, $"{at}.text is larger than the limit of {maxTextBytes} bytes");
                if (part.Data is not null || part.Url is not null)
                    return Invalid($"{at}: a {part.Type} part has text only (no data or url)");
                if (part.Type == PartTypes.Webpage && !IsHttpUrl(part.SourceUrl))
                    return Invalid($"{at}.sourceUrl must be an absolute http(s) URL for a webpage part");
                if (part.Type != PartTypes.Webpage && part.SourceUrl is not null)
                    return Invalid($"{at}.sourceUrl is for webpage parts only");
                return null;
            case PartTypes.Image:
                if (part.Url is not null)
                {
                    if (part.Data is not null)
                        return Invalid($"{at}: an image part has either a url or data, not both");
                    if (!IsHttpUrl(part.Url))
                        return Invalid($"{at}.url must be an absolute http(s) URL of at most {MaxUrlLength} characters");
                    return part.MediaType is null || IsAllowed(part.MediaType, options.Images)
                        ? null
                        : Unsupported(at, part.MediaType, options.Images);
                }
                return Binary(part, at, options.Images, options);
            case PartTypes.File:
                if (part.Url is not null)
                    return Invalid($"{at}: a file part carries its data (base64), not a url");
                return Binary(part, at, options.Files, options);
            default:
                return Invalid($"{at}.type must be one of {string.Join(", ", PartTypes.All)}");
        }
    }

    private static Rejected? Binary(PartInput part, string at, IReadOnlyList<string> allowed, AttachmentOptions options)
    {
        if (part.Data is not { Length: > 0 } data)
            return Invalid($"{at}.data is required (base64) for a {part.Type} part without a url");
        if (string.IsNullOrWhiteSpace(part.MediaType))
            return Invalid($"{at}.mediaType is required with data");
        if (!IsAllowed(part.MediaType, allowed))
            return Unsupported(at, part.MediaType, allowed);
        if (part.Text is not null || part.SourceUrl is not null)
            return Invalid($"{at}: a {part.Type} part has no text or sourceUrl");
        return data.LongLength > options.MaxPartBytes
            ? new Rejected(ErrorCodes.PayloadTooLarge, $"{at} is {data.LongLength} bytes, more than the limit of {options.MaxPartBytes}")
            : null;
    }

    private static bool IsAllowed(string mediaType, IReadOnlyList<string> allowed) =>
        allowed.Contains(mediaType.Trim(), StringComparer.OrdinalIgnoreCase);

    private static Rejected Unsupported(string at, string mediaType, IReadOnlyList<string> allowed) =>
        new(ErrorCodes.UnsupportedMediaType,
            $"{at}.mediaType '{Cut(mediaType)}' is not accepted here (accepted: {string.Join(", ", allowed)})");

    private static Rejected Invalid(string detail) => new(ErrorCodes.ValidationFailed, detail);

    private static string Cut(string s) => s.Length <= 64 ? s : s[..64] + "…";

    public static bool IsHttpUrl(string? url) =>
        url is { Length: > 0 and <= MaxUrlLength } && Uri.TryCreate(url, UriKind.Absolute, out var uri)
        && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps);

    /// <summary>True for a <c>type/subtype</c> media type.</summary>
    public static bool IsMediaType(string? mediaType) =>
        mediaType is { Length: > 2 and <= 127 } && mediaType.IndexOf('/') is > 0 and var slash && slash < mediaType.Length - 1
        && mediaType.All(c => char.IsAsciiLetterOrDigit(c) || c is '/' or '.' or '+' or '-' or '_');
}
