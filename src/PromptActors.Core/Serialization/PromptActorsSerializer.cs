using System.Runtime.Serialization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Akka.Actor;
using Akka.Serialization;
using Akka.Streams;
using PromptActors.Instances;
using PromptActors.Prompts;
using PromptActors.Runs;
using PromptActors.Variables;
using PromptActors.Streaming;

namespace PromptActors.Serialization;

/// <summary>
/// The one serializer for every <see cref="IPromptActorsMessage"/>: System.Text.Json with a stable, explicit manifest per
/// type. A manifest is never renamed or reused once released; persisted events are checked by golden fixtures in the tests.
/// The two events every turn journals are written in a compact binary form instead (<see cref="TurnEventCodec"/>); their
/// earlier JSON manifests are still read (<see cref="ReadOnlyManifests"/>).
/// </summary>
public sealed class PromptActorsSerializer : SerializerWithStringManifest
{
    public const int Id = 4_711;

    /// <summary>Manifest → type. Add new types at the end; never change an existing manifest.</summary>
    public static readonly IReadOnlyDictionary<string, Type> Manifests = new Dictionary<string, Type>(StringComparer.Ordinal)
    {
        // persisted events and snapshots
        ["ev.started.v1"] = typeof(InstanceStarted),
        ["ev.vars.v1"] = typeof(VariablesUpdated),
        [TurnEventCodec.SubmittedManifest] = typeof(MessageSubmitted),
        [TurnEventCodec.CompletedManifest] = typeof(ExecutionCompleted),
        ["ev.failed.v1"] = typeof(ExecutionFailed),
        ["ev.cancelled.v1"] = typeof(ExecutionCancelled),
        ["ev.synced.v1"] = typeof(TaskSynced),
        ["ev.reaped.v1"] = typeof(InstanceReaped),
        ["snap.instance.v1"] = typeof(InstanceSnapshot),
        // instance commands
        ["cmd.start.v1"] = typeof(StartInstance),
        ["cmd.execute.v1"] = typeof(ExecuteMessage),
        ["cmd.vars.v1"] = typeof(UpdateVariables),
        ["cmd.get.v1"] = typeof(GetInstance),
        ["cmd.cancel.v1"] = typeof(CancelExecution),
        ["cmd.cleanup.v1"] = typeof(CleanupInstance),
        ["cmd.stream.v1"] = typeof(SubscribeReplyStream),
        ["cmd.reap.v1"] = typeof(ReapInstance),
        ["cmd.stop.v1"] = typeof(StopInstance),
        // replies
        ["re.rejected.v1"] = typeof(Rejected),
        ["re.view.v1"] = typeof(InstanceView),
        ["re.accepted.v1"] = typeof(MessageAccepted),
        ["re.cancel.v1"] = typeof(CancelResult),
        ["re.cleaned.v1"] = typeof(InstanceCleanedUp),
        ["re.stream.v1"] = typeof(ReplyStreamOffer),
        ["re.chunk.v1"] = typeof(ReplyChunk),
        ["re.completed.v1"] = typeof(ReplyCompleted),
        ["re.failed.v1"] = typeof(ReplyFailed),
        // prompt cache
        ["pc.get.v1"] = typeof(GetPrompt),
        ["pc.found.v1"] = typeof(PromptFound),
        ["pc.notfound.v1"] = typeof(PromptNotFound),
        ["pc.failed.v1"] = typeof(PromptLoadFailed),
        ["pc.invalidate.v1"] = typeof(InvalidatePrompt),
        ["pc.prompt.v1"] = typeof(Prompt),
        // scoped variables
        ["sv.get.v1"] = typeof(GetScopedVariables),
        ["sv.values.v1"] = typeof(ScopedVariableValues),
        ["sv.unavailable.v1"] = typeof(ScopedVariablesUnavailable),
        ["sv.invalidate.v1"] = typeof(InvalidateScopedVariables),
        // reaper
        ["rp.completed.v1"] = typeof(InstanceCompletedNotice),
        ["rp.active.v1"] = typeof(InstanceActiveNotice),
        ["rp.get.v1"] = typeof(GetReaperState),
        ["rp.state.v1"] = typeof(ReaperState),
        // runs
        ["run.info.v1"] = typeof(RunInfo),
        ["run.task.v1"] = typeof(RunTaskRecord),
        // task sweeper
        ["cmd.checktask.v1"] = typeof(CheckTask),
        ["re.taskunknown.v1"] = typeof(TaskUnknown),
        ["re.history.v1"] = typeof(InstanceHistory),
        ["cmd.fork.v1"] = typeof(ForkInstance),
        ["ev.forked.v1"] = typeof(InstanceForked),
        ["cmd.forkbasis.v1"] = typeof(ReadForkBasis),
        ["re.forkbasis.v1"] = typeof(ForkBasis),
        ["cmd.readhistory.v1"] = typeof(ReadHistory),
        ["re.acceptedstream.v1"] = typeof(AcceptedStreamOffer),
        ["cmd.awaitrows.v1"] = typeof(AwaitRunRows),
        ["re.rowswritten.v1"] = typeof(RunRowsWritten),
        ["ev.toolsrequested.v1"] = typeof(ToolCallsRequested),
        ["ev.toolfinished.v1"] = typeof(ToolCallFinished),
        ["ev.tooldecided.v1"] = typeof(ToolCallDecided),
        ["cmd.decidetool.v1"] = typeof(DecideToolCall),
        ["re.tooldecision.v1"] = typeof(ToolCallDecision),
        ["re.toolcall.v1"] = typeof(ReplyToolCall),
        ["re.toolresult.v1"] = typeof(ReplyToolResult),
        ["cmd.toolresults.v1"] = typeof(SubmitToolResults),
        ["re.toolresults.v1"] = typeof(ToolResultsAccepted),
        ["ev.repairrequested.v1"] = typeof(OutputRepairRequested),
        ["re.repair.v1"] = typeof(ReplyRepair),
    };

    /// <summary>Manifests journals written by earlier versions hold: read, never written (JSON, like every v1 form).</summary>
    public static readonly IReadOnlyDictionary<string, Type> ReadOnlyManifests = new Dictionary<string, Type>(StringComparer.Ordinal)
    {
        ["ev.submitted.v1"] = typeof(MessageSubmitted),
        ["ev.completed.v1"] = typeof(ExecutionCompleted),
    };

    private static readonly Dictionary<Type, string> ManifestByType = Manifests.ToDictionary(kv => kv.Value, kv => kv.Key);

    private readonly JsonSerializerOptions _options;

    public PromptActorsSerializer(ExtendedActorSystem? system) : base(system!)
    {
        _options = CreateOptions(system);
    }

    public override int Identifier => Id;

    /// <summary>The JSON options used on the wire and in the journal (camelCase, enums as strings).</summary>
    public static JsonSerializerOptions CreateOptions(ExtendedActorSystem? system)
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        };
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
        if (system is not null)
        {
            options.Converters.Add(new ActorRefConverter(system));
            options.Converters.Add(new AkkaSerializedConverter<ISourceRef<ReplyEvent>>(system));
        }
        return options;
    }

    public override string Manifest(object o) =>
        ManifestByType.TryGetValue(o.GetType(), out var m)
            ? m
            : throw new ArgumentException($"{o.GetType()} has no manifest in {nameof(PromptActorsSerializer)}; add one.");

    public override byte[] ToBinary(object obj) => Encode(obj, _options);

    private static byte[] Encode(object obj, JsonSerializerOptions options) => obj switch
    {
        MessageSubmitted e => TurnEventCodec.Write(e),
        ExecutionCompleted e => TurnEventCodec.Write(e),
        _ => JsonSerializer.SerializeToUtf8Bytes(obj, obj.GetType(), options),
    };

    /// <summary>
    /// The journal form of a persisted event (manifest and payload) as the journal gets it from this serializer, without
    /// an actor system (events hold no actor references). For tools that write or inspect journal rows themselves.
    /// </summary>
    public static (string Manifest, byte[] Payload) JournalForm(IInstanceEvent e) =>
        (ManifestByType[e.GetType()], Encode(e, StaticOptions));

    /// <summary>Reads a persisted event from its journal form (<see cref="JournalForm"/>), any manifest it was ever written with.</summary>
    public static IInstanceEvent FromJournalForm(byte[] payload, string manifest) =>
        Detached.Value.FromBinary(payload, manifest) as IInstanceEvent
        ?? throw new SerializationException($"Manifest '{manifest}' is not a persisted event.");

    private static readonly JsonSerializerOptions StaticOptions = CreateOptions(null);

    private static readonly Lazy<PromptActorsSerializer> Detached = new(() => new PromptActorsSerializer(null));

    public override object FromBinary(byte[] bytes, string manifest)
    {
        try
        {
            switch (manifest)
            {
                case TurnEventCodec.SubmittedManifest: return TurnEventCodec.ReadSubmitted(bytes);
                case TurnEventCodec.CompletedManifest: return TurnEventCodec.ReadCompleted(bytes);
            }
        }
        catch (Exception ex) when (ex is Google.Protobuf.InvalidProtocolBufferException or FormatException or OverflowException
                                       or ArgumentException or JsonException)
        {
            throw new SerializationException($"Manifest '{manifest}': {ex.Message}", ex);
        }
        if (!Manifests.TryGetValue(manifest, out var type) && !ReadOnlyManifests.TryGetValue(manifest, out type))
            throw new SerializationException($"Unknown manifest '{manifest}' for {nameof(PromptActorsSerializer)}.");
        return JsonSerializer.Deserialize(bytes, type, _options)
               ?? throw new SerializationException($"Manifest '{manifest}' deserialized to null.");
    }

    /// <summary>Carries a value Akka itself knows how to serialize (a stream ref) as {serializer, manifest, payload}.</summary>
    private sealed class AkkaSerializedConverter<T>(ExtendedActorSystem system) : JsonConverter<T> where T : class
    {
        private sealed record Envelope(int Serializer, string Manifest, byte[] Payload);

        public override T Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            var envelope = JsonSerializer.Deserialize<Envelope>(ref reader, options)
                           ?? throw new SerializationException($"missing {typeof(T).Name}");
            return (T)system.Serialization.Deserialize(envelope.Payload, envelope.Serializer, envelope.Manifest);
        }

        public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options)
        {
            var serializer = system.Serialization.FindSerializerFor(value);
            var manifest = Akka.Serialization.Serialization.ManifestFor(serializer, value);
            JsonSerializer.Serialize(writer, new Envelope(serializer.Identifier, manifest, serializer.ToBinary(value)), options);
        }
    }

    private sealed class ActorRefConverter(ExtendedActorSystem system) : JsonConverter<IActorRef>
    {
        public override IActorRef Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            var path = reader.GetString();
            return string.IsNullOrEmpty(path) ? ActorRefs.Nobody : system.Provider.ResolveActorRef(path);
        }

        public override void Write(Utf8JsonWriter writer, IActorRef value, JsonSerializerOptions options) =>
            writer.WriteStringValue(Akka.Serialization.Serialization.SerializedActorPath(value));
    }
}
