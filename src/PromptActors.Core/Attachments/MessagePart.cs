using System.Text.Json.Serialization;

namespace PromptActors.Attachments;

/// <summary>The kinds of part a message may carry (the original design's resources, plus text and binary parts).</summary>
public static class PartTypes
{
    public const string Text = "text";
    public const string Image = "image";
    public const string File = "file";
    public const string Note = "note";
    public const string Webpage = "webpage";

    public static readonly IReadOnlyList<string> All = [Text, Image, File, Note, Webpage];
}

/// <summary>
/// One part of a message as the instance keeps it: text (<see cref="PartTypes.Text"/>, a <see cref="PartTypes.Note"/>, a
/// <see cref="PartTypes.Webpage"/> with its <see cref="SourceUrl"/>), an image at a <see cref="Url"/>, or binary content
/// (an image or a file) stored once in the attachment store and referred to by its <see cref="Sha256"/>: the journal and
/// the conversation hold the reference, never the bytes. A part belongs to the message it was sent with.
/// </summary>
public sealed record MessagePart(
    string Type,
    string? Text = null,
    string? Url = null,
    string? Sha256 = null,
    string? MediaType = null,
    long? Size = null,
    string? Name = null,
    string? SourceUrl = null)
{
    /// <summary>True for a part whose bytes are in the attachment store.</summary>
    [JsonIgnore]
    public bool IsStored => Sha256 is not null;
}

/// <summary>
/// A part as a caller sends it: <see cref="Data"/> holds an image's or a file's bytes, which the engine stores
/// (content-addressed, owned by the caller's scope) before the message reaches the instance.
/// </summary>
public sealed record PartInput(
    string Type,
    string? Text = null,
    string? Url = null,
    byte[]? Data = null,
    string? MediaType = null,
    string? Name = null,
    string? SourceUrl = null)
{
    public static PartInput FromText(string text) => new(PartTypes.Text, Text: text);
    public static PartInput ImageAt(string url, string? mediaType = null) => new(PartTypes.Image, Url: url, MediaType: mediaType);
    public static PartInput ImageData(byte[] data, string mediaType) => new(PartTypes.Image, Data: data, MediaType: mediaType);
    public static PartInput FileData(byte[] data, string mediaType, string? name = null) =>
        new(PartTypes.File, Data: data, MediaType: mediaType, Name: name);
    public static PartInput NoteText(string text, string? name = null) => new(PartTypes.Note, Text: text, Name: name);
    public static PartInput WebpageText(string text, string sourceUrl, string? name = null) =>
        new(PartTypes.Webpage, Text: text, SourceUrl: sourceUrl, Name: name);
}

/// <summary>A message with parts for <c>IPromptExecutionEngine.SendAsync</c>: text, parts, an idempotency key, settings.</summary>
public sealed record MessageInput(
    string? UserInput = null,
    IReadOnlyList<PartInput>? Parts = null,
    string? RequestId = null,
    Prompts.PromptSettings? Settings = null);
