using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Akka.Configuration;
using Akka.Streams;
using Akka.Streams.Dsl;
using PromptActors.Engine;
using PromptActors.Instances;
using PromptActors.Models.Tests.Support;
using PromptActors.Prompts;
using PromptActors.Runs;
using PromptActors.Testing;
using PromptActors.Variables;
using Xunit.Abstractions;
using PromptActors.Streaming;

namespace PromptActors.Models.Tests;

/// <summary>
/// The engine's reply streams and failure handling against a fake OpenAI-compatible server, driven through the real
/// OpenAI .NET client (DESIGN §5–§6).
/// </summary>
public sealed class EngineOverOpenAITests : Akka.TestKit.Xunit2.TestKit, IAsyncLifetime
{
    // Instances live on nodes with the "engine" role; the second node of the cross-node test only reaches them.
    private static readonly Config ClientConfig = ConfigurationFactory.ParseString("""
        akka.loglevel = INFO
        akka.actor.provider = cluster
        akka.actor.serialize-messages = on
        akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0 }
        akka.cluster.sharding.role = engine
        """).WithFallback(PromptActorsConfig.Default);

    private static readonly Config NodeConfig = ConfigurationFactory.ParseString("akka.cluster.roles = [engine]").WithFallback(ClientConfig);

    private readonly ITestOutputHelper _output;
    private readonly InMemoryRunStore _runs = new();
    private FakeOpenAIServer _server = null!;
    private PromptActorsRuntime _runtime = null!;

    public EngineOverOpenAITests(ITestOutputHelper output) : base(NodeConfig, "engine-openai", output) => _output = output;

    private IPromptExecutionEngine Engine => _runtime.Engine;

    public async Task InitializeAsync()
    {
        _server = await FakeOpenAIServer.StartAsync();
        var registry = ModelRegistryFactory.Create(new Dictionary<string, ModelOptions>
        {
            ["gpt"] = TestModels.OpenAI(_server, o =>
            {
                o.InputPerMillion = 2.5m;
                o.OutputPerMillion = 10m;
                o.CachedInputPerMillion = 1.25m;
                o.MaxRetries = 2;
                o.IdleTimeout = TimeSpan.FromSeconds(2);
            }),
        }, TimeProvider.System);
        var options = new PromptActorsOptions();
        _runtime = PromptActorsRuntime.Start(Sys, options,
            new PromptActorsServices(new InMemoryPromptStore(), new InMemoryScopedVariableStore(), _runs, registry, TimeProvider.System));
        await Engine.SavePromptAsync(new PromptDefinition("chat", "Chat", [new(MessageRole.System, "Be brief.")],
            Settings: new PromptSettings("gpt")));
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private async Task<string> StartAsync() =>
        (await Engine.StartInstanceAsync(new StartInstanceRequest("chat", new InstanceScope("u1")))).InstanceId;

    private static async Task<List<ReplyEvent>> Collect(IAsyncEnumerable<ReplyEvent> stream)
    {
        var events = new List<ReplyEvent>();
        await foreach (var e in stream)
            events.Add(e);
        return events;
    }

    private static string Text(IEnumerable<ReplyEvent> events) => string.Concat(events.OfType<ReplyChunk>().Select(c => c.Text));

    private async Task<RunTaskRecord> TaskRowAsync(string taskId, RunTaskStatus status)
    {
        RunTaskRecord? row = null;
        await AwaitAssertAsync(() =>
        {
            row = _runs.Tasks.SingleOrDefault(t => t.TaskId == taskId);
            Assert.NotNull(row);
            Assert.Equal(status, row!.Status);
            return Task.CompletedTask;
        }, TimeSpan.FromSeconds(10));
        return row!;
    }

    [Fact]
    public async Task Three_subscribers_one_joining_mid_reply_get_the_same_full_text_and_resume_returns_exactly_the_rest()
    {
        var release = new TaskCompletionSource();
        _server.Script(new Reply { Chunks = ["The", " quick", " brown", " fox", " jumps"], HoldAfter = 2, Hold = release.Task });
        var id = await StartAsync();
        await Engine.ExecuteMessageAsync(id, "go");

        var first = Collect(Engine.StreamAsync(id));
        var second = Collect(Engine.StreamAsync(id));
        await AwaitAssertAsync(async () => Assert.Equal("The quick", (await Engine.GetInstanceAsync(id)).StreamingText));
        var late = Collect(Engine.StreamAsync(id)); // joins mid-reply
        await AwaitAssertAsync(async () => Assert.False(late.IsCompleted));
        release.SetResult();

        var a = await first;
        var b = await second;
        var c = await late;
        Assert.Equal("The quick brown fox jumps", Text(a));
        Assert.Equal(a, b);
        Assert.Equal(a, c);
        Assert.Equal("The quick brown fox jumps", Assert.IsType<ReplyCompleted>(a[^1]).Text);

        var resumed = await Collect(Engine.StreamAsync(id, fromIndex: 3));
        Assert.Equal(new[] { " fox", " jumps" }, resumed.OfType<ReplyChunk>().Select(x => x.Text));
        Assert.Equal(new long[] { 3, 4 }, resumed.OfType<ReplyChunk>().Select(x => x.Index));
        Assert.IsType<ReplyCompleted>(resumed[^1]);
    }

    [Fact]
    public async Task Cancel_mid_stream_closes_the_providers_connection_and_records_the_partial_text()
    {
        _server.Script(new Reply { Chunks = ["Hello", " there", " never"], StallAfter = 2 });
        var id = await StartAsync();
        var accepted = await Engine.ExecuteMessageAsync(id, "go");
        await AwaitAssertAsync(async () => Assert.Equal("Hello there", (await Engine.GetInstanceAsync(id)).StreamingText));

        var result = await Engine.CancelAsync(id);

        Assert.True(result.Cancelled);
        await _server.Requests.Single().Aborted.WaitAsync(TimeSpan.FromSeconds(10)); // the HTTP stream was really closed
        var row = await TaskRowAsync(accepted.TaskId, RunTaskStatus.Cancelled);
        Assert.Equal("Hello there", row.ResponseText);
        Assert.True(row.TokensOutput > 0); // estimated: the server never sent usage
        Assert.Equal(InstanceStatus.Ready, (await Engine.GetInstanceAsync(id)).Status);
    }

    [Fact]
    public async Task Usage_comes_from_the_servers_final_chunk_and_cost_from_the_price_table()
    {
        _server.Script(new Reply { Chunks = ["ok"], Usage = new FakeUsage(1_000, 500, 200) });
        var id = await StartAsync();
        var accepted = await Engine.ExecuteMessageAsync(id, "go");
        var done = Assert.IsType<ReplyCompleted>(await Engine.WaitForReplyAsync(id));

        Assert.Equal(1_500, done.Stats.TotalTokens);
        Assert.False(done.Stats.UsageEstimated);
        Assert.Equal(0.00725m, done.Stats.Cost); // 800 × 2.5 + 200 × 1.25 + 500 × 10, per million
        Assert.Equal(0.00725m, (await TaskRowAsync(accepted.TaskId, RunTaskStatus.Completed)).Cost);
    }

    [Fact]
    public async Task Usage_is_estimated_with_the_tokenizer_when_the_server_sends_none()
    {
        _server.Script(new Reply { Chunks = ["Hello", " world"] });
        var id = await StartAsync();
        await Engine.ExecuteMessageAsync(id, "go");
        var done = Assert.IsType<ReplyCompleted>(await Engine.WaitForReplyAsync(id));

        Assert.True(done.Stats.UsageEstimated);
        Assert.Equal(TokenCounter.Count("Hello world"), done.Stats.OutputTokens);
        Assert.Equal(TokenCounter.Count("Be brief.") + TokenCounter.Count("go"), done.Stats.InputTokens);
    }

    [Fact]
    public async Task A_429_is_retried_after_its_Retry_After_and_the_reply_completes()
    {
        _server.Script(Reply.Fail(429, retryAfter: "1"), Reply.Text("after", " waiting"));
        var id = await StartAsync();
        var accepted = await Engine.ExecuteMessageAsync(id, "go");

        Assert.Equal("after waiting", Assert.IsType<ReplyCompleted>(await Engine.WaitForReplyAsync(id)).Text);
        Assert.Equal(2, _server.Requests.Count);
        await TaskRowAsync(accepted.TaskId, RunTaskStatus.Completed);
    }

    [Fact]
    public async Task Repeated_500s_end_in_provider_error_and_the_instance_stays_usable()
    {
        _server.Script(Reply.Fail(500), Reply.Fail(500), Reply.Fail(500), Reply.Text("fine"));
        var id = await StartAsync();
        var accepted = await Engine.ExecuteMessageAsync(id, "go");

        var failed = Assert.IsType<ReplyFailed>(await Engine.WaitForReplyAsync(id));
        Assert.Equal(ErrorCodes.ProviderError, failed.Code);
        Assert.Contains("500", failed.Detail);
        Assert.Equal(3, _server.Requests.Count); // first try + 2 retries
        await TaskRowAsync(accepted.TaskId, RunTaskStatus.Failed);

        await Engine.ExecuteMessageAsync(id, "again");
        Assert.Equal("fine", Assert.IsType<ReplyCompleted>(await Engine.WaitForReplyAsync(id)).Text);
    }

    [Fact]
    public async Task A_connection_dropped_after_5_chunks_fails_the_task_with_the_partial_text_kept()
    {
        // The server drops the connection once the engine has seen five chunks (as in the model-level test: an abort
        // right after a flush can otherwise reach the client as a clean end of stream).
        var seen5 = new TaskCompletionSource();
        _server.Script(new Reply { Chunks = ["a", "b", "c", "d", "e", "f", "g"], HoldAfter = 5, Hold = seen5.Task, DropAfter = 5 },
            Reply.Text("next"));
        var id = await StartAsync();
        var accepted = await Engine.ExecuteMessageAsync(id, "go");
        await AwaitAssertAsync(async () => Assert.Equal("abcde", (await Engine.GetInstanceAsync(id)).StreamingText));
        seen5.SetResult();

        var failed = Assert.IsType<ReplyFailed>(await Engine.WaitForReplyAsync(id));
        Assert.Equal(ErrorCodes.ProviderError, failed.Code);
        var row = await TaskRowAsync(accepted.TaskId, RunTaskStatus.Failed);
        Assert.Equal("abcde", row.ResponseText);
        Assert.Single(_server.Requests); // never retried after the first token
        await Engine.ExecuteMessageAsync(id, "again");
        Assert.IsType<ReplyCompleted>(await Engine.WaitForReplyAsync(id));
    }

    [Fact]
    public async Task A_reply_cut_off_without_a_finish_reason_is_not_recorded_as_completed()
    {
        _server.Script(new Reply { Chunks = ["a", "b", "c", "d"], EndAfter = 2 }, Reply.Text("next"));
        var id = await StartAsync();
        var accepted = await Engine.ExecuteMessageAsync(id, "go");

        var failed = Assert.IsType<ReplyFailed>(await Engine.WaitForReplyAsync(id));
        Assert.Equal(ErrorCodes.ProviderError, failed.Code);
        Assert.Contains("without a finish reason", failed.Detail);
        Assert.Equal("ab", (await TaskRowAsync(accepted.TaskId, RunTaskStatus.Failed)).ResponseText);
        await Engine.ExecuteMessageAsync(id, "again");
        Assert.IsType<ReplyCompleted>(await Engine.WaitForReplyAsync(id));
    }

    [Fact]
    public async Task A_malformed_SSE_line_fails_the_task_instead_of_hanging()
    {
        _server.Script(new Reply { Chunks = ["a", "b", "c"], MalformedAfter = 1 }, Reply.Text("next"));
        var id = await StartAsync();
        var accepted = await Engine.ExecuteMessageAsync(id, "go");

        Assert.Equal(ErrorCodes.ProviderError, Assert.IsType<ReplyFailed>(await Engine.WaitForReplyAsync(id)).Code);
        Assert.Equal("a", (await TaskRowAsync(accepted.TaskId, RunTaskStatus.Failed)).ResponseText);
        await Engine.ExecuteMessageAsync(id, "again");
        Assert.IsType<ReplyCompleted>(await Engine.WaitForReplyAsync(id));
    }

    [Fact]
    public async Task A_stalled_stream_fails_after_the_idle_timeout_and_the_instance_stays_usable()
    {
        _server.Script(new Reply { Chunks = ["a", "b"], StallAfter = 1 }, Reply.Text("next"));
        var id = await StartAsync();
        var accepted = await Engine.ExecuteMessageAsync(id, "go");

        var failed = Assert.IsType<ReplyFailed>(await Engine.WaitForReplyAsync(id));
        Assert.Equal(ErrorCodes.ProviderError, failed.Code);
        Assert.Contains("produced nothing", failed.Detail);
        Assert.Equal("a", (await TaskRowAsync(accepted.TaskId, RunTaskStatus.Failed)).ResponseText);
        await Engine.ExecuteMessageAsync(id, "again");
        Assert.IsType<ReplyCompleted>(await Engine.WaitForReplyAsync(id));
    }

    [Fact]
    public async Task A_caller_on_another_node_streams_from_the_instance_through_a_stream_ref()
    {
        // A second node: joins the cluster and reaches instances through a shard-region proxy.
        var other = ActorSystem.Create("engine-openai", ClientConfig);
        try
        {
            var joined = new TaskCompletionSource();
            Cluster.Get(other).RegisterOnMemberUp(() => joined.TrySetResult());
            Cluster.Get(other).Join(Cluster.Get(Sys).SelfAddress);
            await joined.Task.WaitAsync(TimeSpan.FromSeconds(20));
            var proxy = await ClusterSharding.Get(other).StartProxyAsync(PromptActorsConfig.ShardTypeName, "engine",
                new InstanceMessageExtractor());
            var id = await StartAsync();
            Assert.IsType<InstanceView>(await proxy.Ask<object>(new GetInstance(id), TimeSpan.FromSeconds(20))); // routed

            var release = new TaskCompletionSource();
            _server.Script(new Reply { Chunks = ["far", " away", " text"], HoldAfter = 1, Hold = release.Task });
            await Engine.ExecuteMessageAsync(id, "go");
            var offer = await proxy.Ask<ReplyStreamOffer>(new SubscribeReplyStream(id), TimeSpan.FromSeconds(20));
            var reading = offer.Stream.Source.RunWith(Sink.Seq<ReplyEvent>(), other.Materializer());
            release.SetResult();
            var events = await reading.WaitAsync(TimeSpan.FromSeconds(20));

            Assert.Equal("far away text", Text(events));
            Assert.Equal("far away text", Assert.IsType<ReplyCompleted>(events[^1]).Text);
        }
        finally
        {
            await other.Terminate();
        }
    }
}
