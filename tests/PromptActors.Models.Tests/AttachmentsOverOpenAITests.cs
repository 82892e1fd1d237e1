using System.Text.Json.Nodes;
using Akka.Configuration;
using PromptActors.Attachments;
using PromptActors.Engine;
using PromptActors.Instances;
using PromptActors.Models.Tests.Support;
using PromptActors.Prompts;
using PromptActors.Runs;
using PromptActors.Testing;
using PromptActors.Variables;
using Xunit.Abstractions;

namespace PromptActors.Models.Tests;

/// <summary>
/// Image and file parts of a message, through the engine and the real OpenAI .NET client to a fake OpenAI-compatible server:
/// what reaches the wire, what the conversation keeps (references), and that the same bytes are stored once.
/// </summary>
public sealed class AttachmentsOverOpenAITests : Akka.TestKit.Xunit2.TestKit, IAsyncLifetime
{
    private static readonly Config NodeConfig = ConfigurationFactory.ParseString("""
        akka.loglevel = INFO
        akka.actor.provider = cluster
        akka.actor.serialize-messages = on
        akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0 }
        """).WithFallback(PromptActorsConfig.Default);

    private readonly InMemoryRunStore _runs = new();
    private readonly InMemoryAttachmentStore _attachments = new();
    private FakeOpenAIServer _server = null!;
    private PromptActorsRuntime _runtime = null!;

    public AttachmentsOverOpenAITests(ITestOutputHelper output) : base(NodeConfig, "attachments-openai", output)
    {
    }

    private IPromptExecutionEngine Engine => _runtime.Engine;

    public async Task InitializeAsync()
    {
        _server = await FakeOpenAIServer.StartAsync();
        var registry = ModelRegistryFactory.Create(new Dictionary<string, ModelOptions> { ["gpt"] = TestModels.OpenAI(_server) },
            TimeProvider.System);
        _runtime = PromptActorsRuntime.Start(Sys, new PromptActorsOptions(),
            new PromptActorsServices(new InMemoryPromptStore(), new InMemoryScopedVariableStore(), _runs, registry, TimeProvider.System,
                Attachments: _attachments));
        await Engine.SavePromptAsync(new PromptDefinition("look", "Look", [new(MessageRole.System, "Describe.")],
            Settings: new PromptSettings("gpt")));
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private async Task WaitCompletedAsync(string taskId) => await AwaitAssertAsync(() =>
    {
        Assert.Equal(RunTaskStatus.Completed, _runs.Tasks.SingleOrDefault(t => t.TaskId == taskId)?.Status);
        return Task.CompletedTask;
    }, TimeSpan.FromSeconds(10));

    [Fact]
    public async Task An_image_a_pdf_a_text_file_and_an_image_url_reach_the_provider_intact_and_the_conversation_keeps_references()
    {
        var png = new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }.Concat(Enumerable.Range(0, 4000).Select(i => (byte)(i * 7))).ToArray();
        var pdf = "%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF"u8.ToArray();
        var notes = "line one\nline two"u8.ToArray();
        _server.Script(Reply.Text("Seen."), Reply.Text("Again."));
        var id = (await Engine.StartInstanceAsync(new StartInstanceRequest("look", new InstanceScope("u1")))).InstanceId;

        var accepted = await Engine.SendAsync(id, new MessageInput("What is in these?",
        [
            PartInput.ImageData(png, "image/png"),
            PartInput.FileData(pdf, "application/pdf", "report.pdf"),
            PartInput.FileData(notes, "text/plain", "notes.txt"),
            PartInput.ImageAt("https://example.com/cat.png"),
            PartInput.NoteText("the customer is on the phone", "context"),
        ]));
        await WaitCompletedAsync(accepted.TaskId);

        var user = Assert.Single(_server.Requests).Body["messages"]!.AsArray().Last(m => (string?)m!["role"] == "user")!;
        var parts = user["content"]!.AsArray().Select(p => p!.AsObject()).ToList();
        Assert.Equal("What is in these?", (string?)parts[0]["text"]);
        Assert.Equal("data:image/png;base64," + Convert.ToBase64String(png), (string?)parts[1]["image_url"]!["url"]);
        Assert.Equal("file", (string?)parts[2]["type"]);
        Assert.Equal("data:application/pdf;base64," + Convert.ToBase64String(pdf), (string?)parts[2]["file"]!["file_data"]);
        Assert.Equal("report.pdf", (string?)parts[2]["file"]!["filename"]);
        Assert.Equal("[file notes.txt (text/plain)]\nline one\nline two", (string?)parts[3]["text"]);
        Assert.Equal("https://example.com/cat.png", (string?)parts[4]["image_url"]!["url"]);
        Assert.Equal("[note: context]\nthe customer is on the phone", (string?)parts[5]["text"]);

        // The conversation (and the journal) hold references: hash, media type and size, never the bytes.
        var sent = (await Engine.GetInstanceAsync(id)).Conversation.Single(m => m.Role == MessageRole.User);
        Assert.Equal(AttachmentHash.Of(png), sent.Parts![0].Sha256);
        Assert.Equal(png.Length, sent.Parts[0].Size);
        Assert.Equal("report.pdf", sent.Parts[1].Name);
        Assert.Equal(3, _attachments.Count);

        // A follow-up sends the same image again: stored once; the history's parts are given to the model again.
        var again = await Engine.SendAsync(id, new MessageInput("And this one?", [PartInput.ImageData(png, "image/png")]));
        await WaitCompletedAsync(again.TaskId);
        Assert.Equal(3, _attachments.Count);
        var second = _server.Requests[1].Body["messages"]!.AsArray().Where(m => (string?)m!["role"] == "user").ToList();
        Assert.Equal(2, second.Count);
        Assert.Equal(6, second[0]!["content"]!.AsArray().Count);
        Assert.Equal("data:image/png;base64," + Convert.ToBase64String(png),
            (string?)second[1]!["content"]!.AsArray()[1]!["image_url"]!["url"]);
    }
}
