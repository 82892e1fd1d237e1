using System.Text;
using Akka.Actor;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Parameters;
using PromptActors.Instances;
using PromptActors.Models;
using PromptActors.Prompts;
using PromptActors.Runs;
using PromptActors.Serialization;
using PromptActors.Variables;

namespace PromptActors.Bench.Micro;

/// <summary>The inputs of the render benchmarks (shared with the output-size column).</summary>
public static class Templates
{
    public const string Small = "Hello {{name}}, welcome to {{ city }}. Today is {{current_date}}.";

    public static readonly MergedVariables SmallVariables = MergedVariables.Merge(
        new Dictionary<string, string> { ["name"] = "Ada" }, null, null, null,
        new Dictionary<string, string> { ["city"] = "Paris" },
        new Dictionary<string, string> { ["current_date"] = "2026-11-24" });

    /// <summary>About 100 KB of prose with a placeholder every ~200 characters (five distinct names).</summary>
    public static readonly string Large = BuildLarge();

    public static readonly MergedVariables LargeVariables = MergedVariables.Merge(null, null, null, null,
        Enumerable.Range(0, 5).ToDictionary(i => "var" + i, i => "value number " + i), null);

    /// <summary>200 distinct placeholders, 200 variables.</summary>
    public static readonly string Many = string.Join(" and ", Enumerable.Range(0, 200).Select(i => $"{{{{v{i}}}}}"));

    public static readonly MergedVariables ManyVariables = MergedVariables.Merge(null, null, null, null,
        Enumerable.Range(0, 200).ToDictionary(i => "v" + i, i => "x" + i), null);

    /// <summary>10 KB of text without any placeholder (single braces included).</summary>
    public static readonly string Plain = string.Concat(Enumerable.Repeat("A plain {sentence} with no placeholder at all; ", 220));

    private static string BuildLarge()
    {
        var sb = new StringBuilder();
        var i = 0;
        while (sb.Length < 100_000)
            sb.Append("The quick brown fox jumps over the lazy dog while the river flows past the old town walls ")
              .Append("and the museums open their doors to the morning crowd of visitors from far away {{var").Append(i++ % 5).Append("}}. ");
        return sb.ToString();
    }

    /// <summary>Hostile templates: deep braces, unterminated placeholders, over-long names.</summary>
    public static string Hostile(string kind, int bytes) => kind switch
    {
        "braces" => new string('{', bytes),
        "unterminated" => Repeat("{{ name ", bytes),
        "long-names" => Repeat("{{" + new string('a', 300) + " ", bytes),
        "escapes" => Repeat("\\{{x}} {{", bytes),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    private static string Repeat(string unit, int bytes)
    {
        var sb = new StringBuilder(bytes + unit.Length);
        while (sb.Length < bytes)
            sb.Append(unit);
        return sb.ToString(0, bytes);
    }
}

/// <summary>Output sizes per benchmark (for the "Output" column): the rendered string, or the serialized payload.</summary>
public static class OutputSizes
{
    private static long StringBytes(string s) => (22 + 2L * s.Length + 7) / 8 * 8;

    private static long? Rendered(string template, MergedVariables variables)
    {
        var output = VariableResolver.Render(template, variables, MissingVariablePolicy.Keep);
        return ReferenceEquals(output, template) ? 0 : StringBytes(output);
    }

    public static long? Of(string key, ParameterInstances parameters) => key switch
    {
        "RenderBenchmarks.Small" => Rendered(Templates.Small, Templates.SmallVariables),
        "RenderBenchmarks.Large100KB" => Rendered(Templates.Large, Templates.LargeVariables),
        "RenderBenchmarks.ManyVariables" => Rendered(Templates.Many, Templates.ManyVariables),
        "RenderBenchmarks.NoPlaceholder" => Rendered(Templates.Plain, Templates.SmallVariables),
        "SerializerBenchmarks.ExecutionCompleted" or "SerializerBenchmarks.MessageSubmitted" or "SerializerBenchmarks.InstanceSnapshot" =>
            SerializerBenchmarks.PayloadSizes.Value[key["SerializerBenchmarks.".Length..]],
        "HostileInputBenchmarks.Render" => Rendered(Templates.Hostile((string)parameters["Kind"], (int)parameters["Bytes"]), Templates.SmallVariables),
        _ => null,
    };
}

/// <summary>VariableResolver.Render: target zero allocations beyond the output string, none without a placeholder.</summary>
[MemoryDiagnoser]
public class RenderBenchmarks
{
    [Benchmark(Description = "small template (3 placeholders)")]
    public string Small() => VariableResolver.Render(Templates.Small, Templates.SmallVariables, MissingVariablePolicy.Error);

    [Benchmark(Description = "100 KB template (500 placeholders)")]
    public string Large100KB() => VariableResolver.Render(Templates.Large, Templates.LargeVariables, MissingVariablePolicy.Error);

    [Benchmark(Description = "200 distinct variables")]
    public string ManyVariables() => VariableResolver.Render(Templates.Many, Templates.ManyVariables, MissingVariablePolicy.Error);

    [Benchmark(Description = "10 KB, no placeholder")]
    public string NoPlaceholder() => VariableResolver.Render(Templates.Plain, Templates.SmallVariables, MissingVariablePolicy.Error);
}

/// <summary>Hostile input must render in linear time: 4 MB should take about four times as long as 1 MB.</summary>
[MemoryDiagnoser]
public class HostileInputBenchmarks
{
    private string _template = "";

    [Params("braces", "unterminated", "long-names", "escapes")]
    public string Kind { get; set; } = "braces";

    [Params(1 << 20, 4 << 20)]
    public int Bytes { get; set; }

    [GlobalSetup]
    public void Setup() => _template = Templates.Hostile(Kind, Bytes);

    [Benchmark]
    public string Render() => VariableResolver.Render(_template, Templates.SmallVariables, MissingVariablePolicy.Keep);
}

/// <summary>MessageBuilder.Build: template messages, a 20-message conversation and the new input.</summary>
[MemoryDiagnoser]
public class MessageBuilderBenchmarks
{
    private Prompt _prompt = null!;
    private List<ConversationMessage> _conversation = null!;
    private MergedVariables _variables = null!;

    [GlobalSetup]
    public void Setup()
    {
        var at = DateTimeOffset.UnixEpoch;
        _prompt = new Prompt("p", 1, "p", null,
            [
                new PromptMessage(MessageRole.System, "You are a concise assistant for {{org_name}}. Today is {{current_date}}. Address {{user_name}} politely."),
                new PromptMessage(MessageRole.User, "Tell me about {{what}} in {{city}}."),
            ],
            [new VariableDefault("org_name", "Acme"), new VariableDefault("what", "hotels")], new PromptSettings("local"),
            MissingVariablePolicy.Error, at, at);
        _conversation = Enumerable.Range(0, 10).SelectMany(i => new[]
        {
            new ConversationMessage(MessageRole.User, $"Question {i}: what about the museums of {{{{city}}}} in spring?", "t" + i, at),
            new ConversationMessage(MessageRole.Assistant, string.Join(' ', Enumerable.Repeat("The museums are lovely in spring.", 8)), "t" + i, at),
        }).ToList();
        _variables = MergedVariables.Merge(_prompt.DefaultValues(), null, new Dictionary<string, string> { ["org_name"] = "Initech" }, null,
            new Dictionary<string, string> { ["city"] = "Paris", ["user_name"] = "Ada" },
            new Dictionary<string, string> { ["current_date"] = "2026-11-24" });
    }

    [Benchmark(Description = "2 template messages + 20 conversation messages + input")]
    public BuiltMessages Build() => MessageBuilder.Build(_prompt, _conversation, "And what about {{city}} at night?", _variables, true);
}

/// <summary>PromptActorsSerializer round trips (ToBinary + FromBinary) of the main persisted events.</summary>
[MemoryDiagnoser]
public class SerializerBenchmarks
{
    private ActorSystem _system = null!;
    private PromptActorsSerializer _serializer = null!;
    private ExecutionCompleted _completed = null!;
    private MessageSubmitted _submitted = null!;
    private InstanceSnapshot _snapshot = null!;
    private byte[] _completedBytes = [];
    private byte[] _submittedBytes = [];
    private byte[] _snapshotBytes = [];

    [GlobalSetup]
    public void Setup()
    {
        _system = ActorSystem.Create("micro", "akka.loglevel = WARNING");
        _serializer = new PromptActorsSerializer((ExtendedActorSystem)_system);
        var at = new DateTimeOffset(2026, 11, 24, 9, 0, 0, TimeSpan.Zero);
        var reply = string.Join(' ', Enumerable.Repeat("Paris has lovely hotels near the river.", 10));
        _completed = new ExecutionCompleted("0f8fad5bd9cb469fa16570867728950e", reply, new TokenUsage(812, 90), 0.000176m, 12.5, 340.25, at);
        _submitted = new MessageSubmitted("0f8fad5bd9cb469fa16570867728950e", "7c9e6679742540de944be07fc1f90ae7",
            "Question 7: what about hotels?", "local", "local", at);
        var settings = new PromptSettings("local", 1, null, 4096);
        var started = new InstanceStarted("a1b2c3", "travel-advisor", 2, new InstanceScope("u1", "o1", "p1"),
            new Dictionary<string, string> { ["city"] = "Paris", ["what"] = "hotels" }, new ExecutionConfig(),
            new RunSource("prompt", "travel-advisor"), "demo", false, settings, at);
        var conversation = Enumerable.Range(0, 10).SelectMany(i => new[]
        {
            new ConversationMessage(MessageRole.User, $"Question {i}: what about hotels?", "task" + i, at),
            new ConversationMessage(MessageRole.Assistant, reply, "task" + i, at),
        }).ToArray();
        var stats = new ExecutionStats(12.5, 340.25, 812, 90, 902, 0.000176m);
        _snapshot = new InstanceSnapshot(started, started.UserValues, conversation, InstanceStatus.Completed, null,
            new FinishedTask("task9", TaskOutcome.Completed, reply, null, null, stats), stats, null, "run-1", at, 9020, 0.00176m, 10,
            at, at, Array.Empty<RunTaskRecord>(), false);
        _completedBytes = _serializer.ToBinary(_completed);
        _submittedBytes = _serializer.ToBinary(_submitted);
        _snapshotBytes = _serializer.ToBinary(_snapshot);
    }

    [GlobalCleanup]
    public void Cleanup() => _system.Terminate().Wait(TimeSpan.FromSeconds(10));

    [Benchmark(Description = "ExecutionCompleted (400-char reply) round trip")]
    public object ExecutionCompleted() => _serializer.FromBinary(_serializer.ToBinary(_completed), _serializer.Manifest(_completed));

    [Benchmark(Description = "MessageSubmitted round trip")]
    public object MessageSubmitted() => _serializer.FromBinary(_serializer.ToBinary(_submitted), _serializer.Manifest(_submitted));

    [Benchmark(Description = "InstanceSnapshot (20 messages) round trip")]
    public object InstanceSnapshot() => _serializer.FromBinary(_serializer.ToBinary(_snapshot), _serializer.Manifest(_snapshot));

    /// <summary>Serialized sizes, for the output column.</summary>
    public static readonly Lazy<Dictionary<string, long>> PayloadSizes = new(() =>
    {
        var b = new SerializerBenchmarks();
        b.Setup();
        try
        {
            return new Dictionary<string, long>
            {
                ["ExecutionCompleted"] = b._completedBytes.Length,
                ["MessageSubmitted"] = b._submittedBytes.Length,
                ["InstanceSnapshot"] = b._snapshotBytes.Length,
            };
        }
        finally
        {
            b.Cleanup();
        }
    });
}
