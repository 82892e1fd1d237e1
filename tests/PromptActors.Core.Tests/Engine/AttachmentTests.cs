using Microsoft.Extensions.AI;
using PromptActors.Attachments;
using PromptActors.Engine;
using PromptActors.Instances;
using PromptActors.Prompts;
using PromptActors.Streaming;
using PromptActors.Tests.Support;
using PromptActors.Variables;
using Xunit.Abstractions;

namespace PromptActors.Tests.Engine;

/// <summary>Messages with parts through the embedding API: stored by reference, given to the model, refused with a code.</summary>
public sealed class AttachmentTests(ITestOutputHelper log) : EngineTestKit(log, o =>
{
    o.Attachments.MaxPartBytes = 2048;
    o.Attachments.MaxMessageBytes = 3000;
    o.Attachments.MaxParts = 4;
})
{
    private static readonly byte[] Png = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 1, 2, 3, 4, 5, 6, 7, 8];

    private async Task<string> StartChatAsync(string model = ScriptedModelId)
    {
        await SavePromptAsync("look", "Describe.", model: model);
        return (await StartAsync("look", new ExecutionConfig(AllowChat: true))).InstanceId;
    }

    private async Task<ReplyEvent> SendPartsAsync(string id, string? text, params PartInput[] parts)
    {
        await Engine.SendAsync(id, new MessageInput(text, parts));
        return await Engine.WaitForReplyAsync(id);
    }

    [Fact]
    public async Task The_local_model_describes_each_part_and_flags_its_usage_as_estimated()
    {
        var id = await StartChatAsync(PromptActors.Models.LocalChatClient.ModelId);

        var reply = Assert.IsType<ReplyCompleted>(await SendPartsAsync(id, "look",
            PartInput.ImageData(Png, "image/png"), PartInput.FileData("%PDF-1.4"u8.ToArray(), "application/pdf", "a.pdf"),
            PartInput.ImageAt("https://example.com/cat.png")));

        Assert.Equal("look [image: image/png, 16 bytes] [file: a.pdf, application/pdf, 8 bytes] [image: https://example.com/cat.png]",
            reply.Text);
        var stats = (await Engine.GetInstanceAsync(id)).Execution.LastMessageStats!;
        Assert.True(stats.UsageEstimated); // the images' tokens are estimates, not counted
        Assert.True(stats.InputTokens >= 2 * PromptActors.Models.UsageEstimator.ImageTokens);
    }

    [Fact]
    public async Task Parts_survive_recovery_by_reference_and_go_to_the_model_with_every_later_turn()
    {
        var id = await StartChatAsync();
        Assert.IsType<ReplyCompleted>(await SendPartsAsync(id, null, PartInput.ImageData(Png, "image/png"),
            PartInput.WebpageText("Opening hours: 9 to 5", "https://shop.test/hours", "Hours")));

        await StopEntityAsync(id);
        var user = (await Engine.GetInstanceAsync(id)).Conversation.Single(m => m.Role == MessageRole.User);
        Assert.Equal("", user.Content);
        Assert.Equal(AttachmentHash.Of(Png), user.Parts![0].Sha256);
        Assert.Equal(16, user.Parts[0].Size);
        Assert.Equal("https://shop.test/hours", user.Parts[1].SourceUrl);

        Assert.IsType<ReplyCompleted>(await SendAsync(id, "and now?"));
        var history = Model.Requests[1].Single(m => m.Role == ChatRole.User && m.Contents.Count > 1);
        var image = Assert.IsType<DataContent>(history.Contents[0]);
        Assert.Equal(Png, image.Data.ToArray());
        Assert.Equal("[webpage https://shop.test/hours \"Hours\"]\nOpening hours: 9 to 5", Assert.IsType<TextContent>(history.Contents[1]).Text);
        Assert.Equal(1, Attachments.Count);
    }

    public static TheoryData<string, PartInput, Type> Refusals => new()
    {
        { "too large", PartInput.ImageData(new byte[2049], "image/png"), typeof(PayloadTooLargeException) },
        { "wrong image type", PartInput.ImageData(Png, "image/svg+xml"), typeof(UnsupportedMediaTypeException) },
        { "wrong file type", PartInput.FileData(Png, "application/x-msdownload", "a.exe"), typeof(UnsupportedMediaTypeException) },
        { "no media type", new PartInput(PartTypes.Image, Data: Png), typeof(ValidationFailedException) },
        { "no data", new PartInput(PartTypes.File, MediaType: "application/pdf"), typeof(ValidationFailedException) },
        { "url not http", PartInput.ImageAt("file:///etc/passwd"), typeof(ValidationFailedException) },
        { "url and data", new PartInput(PartTypes.Image, Url: "https://x.test/a.png", Data: Png, MediaType: "image/png"), typeof(ValidationFailedException) },
        { "unknown type", new PartInput("video", Text: "x"), typeof(ValidationFailedException) },
        { "empty note", PartInput.NoteText(" "), typeof(ValidationFailedException) },
        { "webpage without source", new PartInput(PartTypes.Webpage, Text: "x"), typeof(ValidationFailedException) },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public async Task A_refused_part_stores_nothing_and_changes_nothing(string why, PartInput part, Type expected)
    {
        Assert.NotEmpty(why); // names the case in the test's display name
        var id = await StartChatAsync();
        var before = await Engine.GetInstanceAsync(id);

        var refused = await Assert.ThrowsAnyAsync<PromptActorsException>(() => Engine.SendAsync(id, new MessageInput("hi", [part])));

        Assert.IsType(expected, refused);
        Assert.Equal(0, Attachments.Count);
        var after = await Engine.GetInstanceAsync(id);
        Assert.Equal(before.Conversation.Count, after.Conversation.Count);
        Assert.Null(after.Execution.LastTaskId);
    }

    [Fact]
    public async Task Too_many_parts_or_too_many_bytes_together_are_refused_before_anything_is_stored()
    {
        var id = await StartChatAsync();
        await Assert.ThrowsAsync<ValidationFailedException>(() =>
            Engine.SendAsync(id, new MessageInput("hi", Enumerable.Range(0, 5).Select(i => PartInput.NoteText("n" + i)).ToArray())));
        await Assert.ThrowsAsync<PayloadTooLargeException>(() => Engine.SendAsync(id, new MessageInput("hi",
            [PartInput.ImageData(new byte[2000], "image/png"), PartInput.ImageData(new byte[2000], "image/jpeg")])));
        await Assert.ThrowsAsync<InstanceNotFoundException>(() =>
            Engine.SendAsync("nobody-home", new MessageInput("hi", [PartInput.ImageData(Png, "image/png")])));
        Assert.Equal(0, Attachments.Count);
    }

    [Fact]
    public async Task A_tenant_reads_its_own_attachments_and_another_s_hash_answers_as_an_unknown_one()
    {
        var mine = Engine.ForCaller(U1);
        var other = Engine.ForCaller(new InstanceScope("u2"));
        await SavePromptAsync("look", "Describe.");
        var id = (await mine.StartInstanceAsync(new StartInstanceRequest("look", U1))).InstanceId;
        await mine.SendAsync(id, new MessageInput("hi", [PartInput.ImageData(Png, "image/png")]));
        await mine.WaitForReplyAsync(id);
        var sha = AttachmentHash.Of(Png);

        var own = await mine.GetAttachmentAsync(sha);
        Assert.Equal(Png, own!.Data);
        Assert.Equal("image/png", own.MediaType);
        Assert.Null(await other.GetAttachmentAsync(sha));
        Assert.Null(await other.GetAttachmentAsync(new string('0', 64)));
        Assert.Null(await mine.GetAttachmentAsync("../../etc/passwd"));
        // Another tenant's instance cannot be sent parts (nothing is stored for it).
        await Assert.ThrowsAsync<InstanceNotFoundException>(() =>
            other.SendAsync(id, new MessageInput("hi", [PartInput.ImageData([9, 9, 9], "image/png")])));
        Assert.Equal(1, Attachments.Count);
    }
}
