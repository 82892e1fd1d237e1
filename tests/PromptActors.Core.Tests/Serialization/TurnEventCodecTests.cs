using System.Runtime.Serialization;
using System.Text.Json;
using CsCheck;
using Google.Protobuf;
using PromptActors.Instances;
using PromptActors.Models;
using PromptActors.Serialization;

namespace PromptActors.Tests.Serialization;

public sealed class TurnEventCodecTests
{
    private static readonly JsonSerializerOptions Json = PromptActorsSerializer.CreateOptions(null);

    private static readonly Gen<string> GenId = Gen.OneOf(
        Gen.Const(0).Select(_ => Guid.NewGuid().ToString("N")),
        Gen.Const(0).Select(_ => Guid.NewGuid().ToString("N").ToUpperInvariant()),
        Gen.Const(0).Select(_ => Guid.NewGuid().ToString()),
        Chars("0123456789abcdefg-é", 40));

    private static readonly Gen<string> GenText = Gen.OneOf(Chars("abcXYZ 09é€\0\n\"{}\\", 80), Gen.Const(""), Gen.Const("😀 a pair"));

    private static Gen<string> Chars(string chars, int max) => Gen.Char[chars].Array[0, max].Select(a => new string(a));

    private static readonly Gen<DateTimeOffset> GenTime = Gen.Select(
        Gen.Long[DateTime.MinValue.Ticks + TimeSpan.TicksPerDay, DateTime.MaxValue.Ticks - TimeSpan.TicksPerDay],
        Gen.Int[-14 * 60, 14 * 60],
        (ticks, minutes) => new DateTimeOffset(ticks, TimeSpan.Zero).ToOffset(TimeSpan.FromMinutes(minutes)));

    private static readonly Gen<decimal> GenCost = Gen.OneOf(
        Gen.Decimal,
        Gen.Select(Gen.Long[0, 10_000_000], Gen.Byte[0, 10], (units, scale) => new decimal((int)units, 0, 0, false, scale)),
        Gen.Const(0m), Gen.Const(decimal.MaxValue), Gen.Const(decimal.MinValue), Gen.Const(0.000560m), Gen.Const(-1.5m));

    private static readonly Gen<double> GenMs = Gen.OneOf(Gen.Double[0, 1e9], Gen.Const(0.0), Gen.Const(double.Epsilon),
        Gen.Const(1.0 / 3));

    // The JSON of a value compares every field, including collections and the decimal's scale.
    private static string Describe(object e) => JsonSerializer.Serialize(e, e.GetType(), Json) +
        (e is ExecutionCompleted c ? $" scale={(decimal.GetBits(c.Cost)[3] >> 16) & 0xFF} offset={c.At.Offset} ttft={c.TimeToFirstTokenMs:R} total={c.TotalTimeMs:R}"
         : e is MessageSubmitted s ? $" offset={s.At.Offset}" : "");

    [Fact]
    public void Every_submitted_event_reads_back_unchanged()
    {
        var settings = Gen.Select(Gen.Double[0, 2], Gen.Int[1, 10_000], GenText.List[1, 3].Null(0.5), Gen.Long, Gen.Bool,
                (t, max, stop, seed, high) => new PromptActors.Prompts.PromptSettings(Temperature: t, MaxTokens: max, Stop: stop,
                    Seed: seed, ReasoningEffort: high ? "high" : null))
            .Null(0.5);
        var ids = Gen.Select(GenId.Null(0.3), GenId.List[0, 4].Null(0.3), GenId.Null(0.3), settings);
        var part = Gen.Select(Gen.Int[0, PromptActors.Attachments.PartTypes.All.Count - 1], GenText.Null(0.5), GenText.Null(0.5),
            Gen.Long[-1, long.MaxValue], Gen.Bool,
            (typeIndex, text, name, sizeOrNone, stored) => (PromptActors.Attachments.PartTypes.All[typeIndex], text, name,
                sizeOrNone < 0 ? (long?)null : sizeOrNone, stored)).Select(x =>
            {
                var (type, text, name, size, stored) = x;
                return new PromptActors.Attachments.MessagePart(type, text, stored ? null : "https://x.test/a.png",
                stored ? new string('a', 64) : null, stored ? "image/png" : null, size, name, text is null ? null : "https://x.test/");
            });
        Gen.Select(GenId, GenId.Null(0.3), GenText.Null(0.3), GenText, GenText, GenTime, ids, part.List[0, 4].Select(l => l.Count == 0 ? null : l))
            .Sample(t =>
            {
                var (taskId, runId, message, model, provider, at, (requestId, synced, keyId, overrides), parts) = t;
                var e = new MessageSubmitted(taskId, runId, message, model, provider, at, requestId, synced?.Count == 0 ? null : synced,
                    keyId, overrides, parts);
                var back = TurnEventCodec.ReadSubmitted(TurnEventCodec.Write(e));
                Assert.Equal(Describe(e), Describe(back));
                Assert.Equal(e.At, back.At);
                Assert.Equal(e.At.Offset, back.At.Offset);
            });
    }

    [Fact]
    public void Every_completed_event_reads_back_unchanged()
    {
        var usage = Gen.Select(Gen.Long[0, long.MaxValue], Gen.Long[0, long.MaxValue], Gen.Long[0, 1_000_000], Gen.Bool,
            (input, output, cached, estimated) => new TokenUsage(input, output, cached, estimated));
        Gen.Select(GenId, GenText, usage, GenCost, GenMs.Nullable(0.3), GenMs, GenTime, GenMs.Nullable(0.5))
            .Sample(t =>
            {
                var (taskId, text, tokens, cost, ttft, total, at, callTtft) = t;
                var e = new ExecutionCompleted(taskId, text, tokens, cost, ttft, total, at, callTtft);
                var back = TurnEventCodec.ReadCompleted(TurnEventCodec.Write(e));
                Assert.Equal(Describe(e), Describe(back));
                Assert.Equal(e.Cost, back.Cost);
                Assert.Equal(e.TimeToFirstTokenMs?.ToString("R"), back.TimeToFirstTokenMs?.ToString("R"));
                Assert.Equal(e.CallTimeToFirstTokenMs?.ToString("R"), back.CallTimeToFirstTokenMs?.ToString("R"));
                Assert.Equal(e.TotalTimeMs.ToString("R"), back.TotalTimeMs.ToString("R"));
            });
    }

    [Fact]
    public void Engine_ids_take_16_bytes_and_the_event_is_much_smaller_than_its_json()
    {
        var id = Guid.NewGuid().ToString("N");
        var text = string.Join(' ', Enumerable.Repeat("word", 60));
        var at = DateTimeOffset.UtcNow;
        var submitted = new MessageSubmitted(id, null, "What is there to see?", "gpt-4o-mini", "openai", at, Guid.NewGuid().ToString("N"),
            [Guid.NewGuid().ToString("N")]);
        var completed = new ExecutionCompleted(id, text, new TokenUsage(120, 60), 0.000123m, 12.345678, 456.789012, at);

        var submittedBytes = TurnEventCodec.Write(submitted).Length;
        var completedBytes = TurnEventCodec.Write(completed).Length;
        // 3 ids × (16 + 2) + message + model + provider + time: no property names, no hex text, no ISO dates.
        Assert.Equal(3 * 18 + (2 + 21) + (2 + 11) + (2 + 6) + 9, submittedBytes);
        Assert.True(completedBytes <= text.Length + 18 + 3 + 30 + 9 + 9 + 9, $"{completedBytes} bytes");
        Assert.True(JsonSerializer.SerializeToUtf8Bytes(submitted, Json).Length > 2 * submittedBytes);
        Assert.True(JsonSerializer.SerializeToUtf8Bytes(completed, Json).Length - completedBytes > 150);
    }

    [Fact]
    public void A_reader_skips_fields_it_does_not_know()
    {
        var e = new MessageSubmitted(Guid.NewGuid().ToString("N"), null, "hi", "local", "local", DateTimeOffset.UtcNow);
        var stream = new MemoryStream();
        stream.Write(TurnEventCodec.Write(e));
        var later = new CodedOutputStream(stream, leaveOpen: true);
        later.WriteTag(99, WireFormat.WireType.LengthDelimited);
        later.WriteString("a field a later version added");
        later.WriteTag(100, WireFormat.WireType.Varint);
        later.WriteInt64(42);
        later.Flush();

        Assert.Equal(Describe(e), Describe(TurnEventCodec.ReadSubmitted(stream.ToArray())));
    }

    [Fact]
    public void Damaged_payloads_are_a_serialization_error_not_a_wrong_event()
    {
        var serializer = new PromptActorsSerializer(null!);
        var good = TurnEventCodec.Write(new ExecutionCompleted(Guid.NewGuid().ToString("N"), "text", new TokenUsage(1, 2), 0.1m, null, 5,
            DateTimeOffset.UtcNow));

        Assert.Throws<SerializationException>(() => serializer.FromBinary(good[..^3], "done.v2"));
        Assert.Throws<SerializationException>(() => serializer.FromBinary([], "done.v2"));
        Assert.Throws<SerializationException>(() => serializer.FromBinary([], "sub.v2"));
        // A known field with the wrong wire type.
        Assert.Throws<SerializationException>(() => serializer.FromBinary([0x0D, 1, 2, 3, 4], "done.v2"));
        // An id field that is not 16 bytes.
        Assert.Throws<SerializationException>(() => serializer.FromBinary([0x0A, 2, 1, 2], "sub.v2"));
    }

    [Fact]
    public void Random_bytes_read_as_an_event_or_fail_as_a_serialization_error_and_nothing_else()
    {
        var serializer = new PromptActorsSerializer(null!);
        var valid = TurnEventCodec.Write(new ExecutionCompleted(Guid.NewGuid().ToString("N"), "text", new TokenUsage(1, 2), 0.1m, 3, 5,
            DateTimeOffset.UtcNow));
        // Pure noise, and valid payloads with bytes flipped (which keeps most of the structure).
        var damaged = Gen.Select(Gen.Int[0, valid.Length - 1].Array[1, 4], Gen.Byte.Array[4], (at, value) =>
        {
            var copy = (byte[])valid.Clone();
            for (var i = 0; i < at.Length; i++)
                copy[at[i]] = value[i];
            return copy;
        });
        Gen.Select(Gen.OneOf(Gen.Byte.Array[0, 64], damaged), Gen.Bool).Sample((bytes, submitted) =>
        {
            try
            {
                var e = serializer.FromBinary(bytes, submitted ? TurnEventCodec.SubmittedManifest : TurnEventCodec.CompletedManifest);
                Assert.IsAssignableFrom<IInstanceEvent>(e);
            }
            catch (SerializationException)
            {
            }
        }, iter: 5_000);
    }
}
