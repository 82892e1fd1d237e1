using System.Text;
using Akka.Actor;
using Akka.Streams;
using Akka.Serialization;
using PromptActors.Serialization;
using PromptActors.Tests.Support;
using Xunit.Abstractions;
using PromptActors.Streaming;

namespace PromptActors.Tests.Serialization;

public sealed class SerializerTests(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(EngineTestKit.TestConfig, "serializer-test", output)
{
    private SerializerWithStringManifest Serializer =>
        (SerializerWithStringManifest)Sys.Serialization.FindSerializerForType(typeof(IPromptActorsMessage));

    private static string GoldenDir([System.Runtime.CompilerServices.CallerFilePath] string here = "") =>
        Path.Combine(Path.GetDirectoryName(here)!, "golden");

    [Fact]
    public void Every_message_type_is_bound_to_the_prompt_actors_serializer()
    {
        Assert.IsType<PromptActorsSerializer>(Serializer);
        Assert.Equal(PromptActorsSerializer.Id, Serializer.Identifier);
    }

    [Fact]
    public void Every_message_type_has_a_manifest_and_a_sample()
    {
        var messageTypes = typeof(IPromptActorsMessage).Assembly.GetTypes()
            .Where(t => typeof(IPromptActorsMessage).IsAssignableFrom(t) && !t.IsAbstract && !t.IsInterface
                        && !typeof(Akka.Actor.INoSerializationVerificationNeeded).IsAssignableFrom(t)) // never leaves its actor
            .ToHashSet();
        var sampled = SerializationSamples.All(SomeStream()).Select(s => s.GetType()).ToHashSet();

        Assert.Empty(messageTypes.Except(PromptActorsSerializer.Manifests.Values).Select(t => t.Name));
        Assert.Empty(messageTypes.Except(sampled).Select(t => t.Name));
        Assert.Equal(PromptActorsSerializer.Manifests.Count, PromptActorsSerializer.Manifests.Values.Distinct().Count());
    }

    [Fact]
    public void Every_message_round_trips_without_losing_a_field()
    {
        foreach (var sample in SerializationSamples.All(SomeStream()))
        {
            var manifest = Serializer.Manifest(sample);
            var bytes = Serializer.ToBinary(sample);
            var back = Serializer.FromBinary(bytes, manifest);

            Assert.IsType(sample.GetType(), back);
            // Records holding collections compare by reference, so compare the serialized form of the copy instead.
            Assert.Equal(bytes, Serializer.ToBinary(back));
        }
    }

    private Akka.Streams.ISourceRef<PromptActors.Streaming.ReplyEvent> SomeStream() =>
        Akka.Streams.Dsl.Source.Single<PromptActors.Streaming.ReplyEvent>(new PromptActors.Streaming.ReplyChunk("t", 0, "x"))
            .RunWith(Akka.Streams.Dsl.StreamRefs.SourceRef<PromptActors.Streaming.ReplyEvent>(), Sys.Materializer())
            .GetAwaiter().GetResult();

    [Fact]
    public async Task A_stream_offer_survives_serialization_and_can_still_be_read()
    {
        var offer = new PromptActors.Streaming.ReplyStreamOffer("i-1", "t", SomeStream());
        var back = (PromptActors.Streaming.ReplyStreamOffer)Serializer.FromBinary(Serializer.ToBinary(offer), Serializer.Manifest(offer));
        var events = await back.Stream.Source.RunWith(Akka.Streams.Dsl.Sink.Seq<PromptActors.Streaming.ReplyEvent>(), Sys.Materializer());
        Assert.Equal("x", Assert.IsType<PromptActors.Streaming.ReplyChunk>(Assert.Single(events)).Text);
    }

    // The per-turn events are binary (TurnEventCodec); their fixtures are the raw bytes.
    private static string GoldenPath(string manifest) =>
        Path.Combine(GoldenDir(), manifest + (manifest is "sub.v2" or "done.v2" ? ".bin" : ".json"));

    private static byte[] ReadGolden(string path) =>
        path.EndsWith(".json", StringComparison.Ordinal) ? Encoding.UTF8.GetBytes(File.ReadAllText(path).Trim()) : File.ReadAllBytes(path);

    [Fact]
    public void Persisted_events_still_read_their_golden_fixtures()
    {
        // A change in how an event serializes fails this test, because journals already written hold the old form:
        // add a new manifest (v2) instead of changing one. New fixtures are written with PROMPTACTORS_WRITE_GOLDEN=1.
        var write = Environment.GetEnvironmentVariable("PROMPTACTORS_WRITE_GOLDEN") == "1";
        foreach (var (manifest, sample) in SerializationSamples.Persisted)
        {
            Assert.Equal(manifest, Serializer.Manifest(sample));
            var path = GoldenPath(manifest);
            var current = Serializer.ToBinary(sample);
            if (write && !File.Exists(path))
                File.WriteAllBytes(path, current);
            Assert.True(File.Exists(path), $"golden fixture {path} is missing (PROMPTACTORS_WRITE_GOLDEN=1 writes it)");
            var golden = ReadGolden(path);

            var fromGolden = Serializer.FromBinary(golden, manifest);
            Assert.Equal(golden, Serializer.ToBinary(fromGolden));
            Assert.Equal(golden, current);
        }
    }

    [Fact]
    public void A_snapshot_keeps_the_running_turns_steps_and_one_written_before_steps_reads_as_one_model_call()
    {
        var v1 = (PromptActors.Instances.InstanceSnapshot)SerializationSamples.Persisted["snap.instance.v1"];
        var old = (PromptActors.Instances.InstanceSnapshot)Serializer.FromBinary(ReadGolden(GoldenPath("snap.instance.v1")), "snap.instance.v1");
        Assert.Null(old.Current!.Steps);
        Assert.Equal(new PromptActors.Instances.ModelCallStep("local", "local", old.Current.SubmittedAt), Assert.Single(old.Current.StepsSoFar));

        var at = old.Current.SubmittedAt;
        var withSteps = v1 with { Current = v1.Current! with { Steps = [new PromptActors.Instances.ModelCallStep("local", "local", at)] } };
        var bytes = Serializer.ToBinary(withSteps);
        Assert.Contains("\"steps\":[{\"kind\":\"model_call\",", Encoding.UTF8.GetString(bytes));
        var back = (PromptActors.Instances.InstanceSnapshot)Serializer.FromBinary(bytes, Serializer.Manifest(withSteps));
        Assert.IsType<PromptActors.Instances.ModelCallStep>(Assert.Single(back.Current!.Steps!));
        Assert.Equal(bytes, Serializer.ToBinary(back));

        // A model call's own figures and a repairing call keep everything through a snapshot.
        PromptActors.Instances.TurnStep[] repaired =
        [
            new PromptActors.Instances.ModelCallStep("local", "local", at, 0,
                new PromptActors.Instances.ModelCallFigures(new PromptActors.Models.TokenUsage(10, 4), 0.0001m, 3.5, 12.25, at, "{\"a\":1}")),
            new PromptActors.Instances.ModelCallStep("local", "local", at, 1, Repair: new PromptActors.Instances.OutputRepair("{\"a\":1}", "/a: expected string", 2, 2)),
        ];
        var withRepair = v1 with { Current = v1.Current! with { Steps = repaired } };
        var repairBytes = Serializer.ToBinary(withRepair);
        var repairBack = (PromptActors.Instances.InstanceSnapshot)Serializer.FromBinary(repairBytes, Serializer.Manifest(withRepair));
        Assert.Equal(repaired, repairBack.Current!.Steps!);
        Assert.Equal(1, repairBack.Current.Repairs);
    }

    [Fact]
    public void Events_in_the_json_form_of_earlier_versions_are_still_read()
    {
        foreach (var (manifest, sample) in SerializationSamples.ReadOnly)
        {
            var fromGolden = Serializer.FromBinary(ReadGolden(GoldenPath(manifest)), manifest);
            Assert.IsType(sample.GetType(), fromGolden);
            Assert.Equal(Serializer.ToBinary(sample), Serializer.ToBinary(fromGolden));
            Assert.NotEqual(manifest, Serializer.Manifest(sample));
        }
    }

    [Fact]
    public void The_journal_form_without_an_actor_system_is_what_the_serializer_writes()
    {
        foreach (var sample in SerializationSamples.Persisted.Values.OfType<PromptActors.Instances.IInstanceEvent>())
        {
            var (manifest, payload) = PromptActorsSerializer.JournalForm(sample);
            Assert.Equal(Serializer.Manifest(sample), manifest);
            Assert.Equal(Serializer.ToBinary(sample), payload);
        }
    }

    [Fact]
    public void Unknown_manifest_is_a_clear_error()
    {
        var error = Assert.Throws<System.Runtime.Serialization.SerializationException>(() => Serializer.FromBinary("{}"u8.ToArray(), "ev.nope.v9"));
        Assert.Contains("ev.nope.v9", error.Message);
    }
}
