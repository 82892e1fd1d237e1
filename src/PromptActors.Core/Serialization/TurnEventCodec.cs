using System.Globalization;
using System.Runtime.Serialization;
using System.Text;
using Google.Protobuf;
using static Google.Protobuf.WireFormat.WireType;
using PromptActors.Instances;
using PromptActors.Models;

namespace PromptActors.Serialization;

/// <summary>
/// The written form of the two events every turn journals, <see cref="MessageSubmitted"/> (<c>sub.v2</c>) and
/// <see cref="ExecutionCompleted"/> (<c>done.v2</c>): the protocol-buffers wire format, with the field numbers
/// below. It carries the same values as the JSON of v1 in about half the bytes around the text (no property names, ids
/// of 32 hex digits as 16 bytes, times as ticks), which is most of a turn's journal WAL after the texts themselves.
/// A reader skips fields it does not know, so a later version may add fields without a new manifest; a field number is
/// never reused. Events journaled as v1 JSON are still read (see <see cref="PromptActorsSerializer"/>).
/// </summary>
/// <remarks>
/// <para><c>sub.v2</c>: 1 task id (16 bytes) | 2 task id (string); 3 | 4 new run id; 5 user message (absent =
/// null); 6 model; 7 provider; 8 time (UTC ticks, sfixed64); 9 time's offset in minutes (sint32, absent = 0); 10 | 11
/// request id; 12 | 13 a synced task id (repeated, in order); 14 | 15 the id of the API key that sent the message; 16 the
/// message's own settings as JSON (absent when it set none).</para>
/// <para><c>done.v2</c>: 1 | 2 task id; 3 text; 4 input tokens; 5 output tokens; 6 cached input tokens;
/// 7 estimated; 8 cost's unscaled value (sint64) with 9 its scale (uint32) | 10 cost as invariant text when it does not
/// fit 64 bits; 11 time to first token in ms (double, absent = null); 12 total time in ms (double); 13 time (UTC ticks);
/// 14 its offset in minutes; 15 the time to first token of the turn's last model call, when the turn made more than one
/// (double, absent = null).</para>
/// <para>A number that is 0 and a flag that is false are not written.
/// An id is written as 16 bytes only when it is exactly 32 lowercase hex digits (what the engine generates), so it
/// reads back as the same string.</para>
/// </remarks>
public static class TurnEventCodec
{
    // Short: the manifest is stored in every journal row.
    public const string SubmittedManifest = "sub.v2";
    public const string CompletedManifest = "done.v2";

    public static byte[] Write(MessageSubmitted e)
    {
        var settings = e.Settings is null ? null : System.Text.Json.JsonSerializer.Serialize(e.Settings, SettingsJson);
        var parts = e.Parts is { Count: > 0 } ? System.Text.Json.JsonSerializer.Serialize(e.Parts, SettingsJson) : null;
        var max = 64 + Max(e.TaskId) + Max(e.NewRunId) + Max(e.UserMessage) + Max(e.Model) + Max(e.Provider) + Max(e.RequestId)
                  + Max(e.KeyId) + Max(settings) + Max(parts);
        if (e.Synced is { } synced)
            foreach (var id in synced)
                max += Max(id);
        return Encode(max, (e, settings, parts), static (o, x) =>
        {
            var (e, settings, parts) = x;
            WriteId(o, 1, e.TaskId);
            if (e.NewRunId is not null)
                WriteId(o, 3, e.NewRunId);
            if (e.UserMessage is not null)
                WriteString(o, 5, e.UserMessage);
            WriteString(o, 6, e.Model);
            WriteString(o, 7, e.Provider);
            WriteTime(o, 8, e.At);
            if (e.RequestId is not null)
                WriteId(o, 10, e.RequestId);
            if (e.Synced is { } ids)
                foreach (var id in ids)
                    WriteId(o, 12, id);
            if (e.KeyId is not null)
                WriteId(o, 14, e.KeyId);
            if (settings is not null)
                WriteString(o, 16, settings);
            if (parts is not null)
                WriteString(o, 17, parts); // the message's parts (JSON; binary ones by reference)
        });
    }

    /// <summary>The JSON of a message's settings in <c>sub.v2</c> (camelCase, nulls left out).</summary>
    private static readonly System.Text.Json.JsonSerializerOptions SettingsJson = new(System.Text.Json.JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    public static byte[] Write(ExecutionCompleted e)
    {
        var max = 160 + Max(e.TaskId) + Max(e.Text);
        return Encode(max, e, static (o, e) =>
        {
            WriteId(o, 1, e.TaskId);
            WriteString(o, 3, e.Text);
            WriteInt64(o, 4, e.Usage.InputTokens);
            WriteInt64(o, 5, e.Usage.OutputTokens);
            WriteInt64(o, 6, e.Usage.CachedInputTokens);
            if (e.Usage.Estimated)
            {
                o.WriteTag(7, WireFormat.WireType.Varint);
                o.WriteBool(true);
            }
            WriteDecimal(o, 8, e.Cost);
            if (e.TimeToFirstTokenMs is { } ttft)
                WriteDouble(o, 11, ttft);
            WriteDouble(o, 12, e.TotalTimeMs);
            WriteTime(o, 13, e.At);
            if (e.CallTimeToFirstTokenMs is { } callTtft)
                WriteDouble(o, 15, callTtft);
        });
    }

    public static MessageSubmitted ReadSubmitted(byte[] bytes)
    {
        string? taskId = null, newRunId = null, userMessage = null, model = null, provider = null, requestId = null, keyId = null;
        Prompts.PromptSettings? settings = null;
        List<Attachments.MessagePart>? parts = null;
        long? ticks = null;
        var offsetMinutes = 0;
        List<string>? synced = null;
        var input = new CodedInputStream(bytes);
        uint tag;
        while ((tag = input.ReadTag()) != 0)
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case 1 or 2: taskId = ReadId(input, tag, 1); break;
                case 3 or 4: newRunId = ReadId(input, tag, 3); break;
                case 5: userMessage = Field(input, tag, LengthDelimited).ReadString(); break;
                case 6: model = Field(input, tag, LengthDelimited).ReadString(); break;
                case 7: provider = Field(input, tag, LengthDelimited).ReadString(); break;
                case 8: ticks = Field(input, tag, Fixed64).ReadSFixed64(); break;
                case 9: offsetMinutes = Field(input, tag, Varint).ReadSInt32(); break;
                case 10 or 11: requestId = ReadId(input, tag, 10); break;
                case 12 or 13: (synced ??= new List<string>()).Add(ReadId(input, tag, 12)); break;
                case 14 or 15: keyId = ReadId(input, tag, 14); break;
                case 16:
                    settings = System.Text.Json.JsonSerializer.Deserialize<Prompts.PromptSettings>(
                        Field(input, tag, LengthDelimited).ReadString(), SettingsJson);
                    break;
                case 17:
                    parts = System.Text.Json.JsonSerializer.Deserialize<List<Attachments.MessagePart>>(
                        Field(input, tag, LengthDelimited).ReadString(), SettingsJson);
                    break;
                default: input.SkipLastField(); break;
            }
        }
        return new MessageSubmitted(Required(taskId, "task id"), newRunId, userMessage, Required(model, "model"),
            Required(provider, "provider"), Time(ticks, offsetMinutes), requestId, synced, keyId, settings, parts);
    }

    public static ExecutionCompleted ReadCompleted(byte[] bytes)
    {
        string? taskId = null, text = null;
        long input = 0, output = 0, cached = 0, units = 0;
        uint scale = 0;
        var estimated = false;
        decimal? costText = null;
        double? ttft = null, total = null, callTtft = null;
        long? ticks = null;
        var offsetMinutes = 0;
        var stream = new CodedInputStream(bytes);
        uint tag;
        while ((tag = stream.ReadTag()) != 0)
        {
            switch (WireFormat.GetTagFieldNumber(tag))
            {
                case 1 or 2: taskId = ReadId(stream, tag, 1); break;
                case 3: text = Field(stream, tag, LengthDelimited).ReadString(); break;
                case 4: input = Field(stream, tag, Varint).ReadInt64(); break;
                case 5: output = Field(stream, tag, Varint).ReadInt64(); break;
                case 6: cached = Field(stream, tag, Varint).ReadInt64(); break;
                case 7: estimated = Field(stream, tag, Varint).ReadBool(); break;
                case 8: units = Field(stream, tag, Varint).ReadSInt64(); break;
                case 9: scale = Field(stream, tag, Varint).ReadUInt32(); break;
                case 10: costText = decimal.Parse(Field(stream, tag, LengthDelimited).ReadString(), NumberStyles.Number, CultureInfo.InvariantCulture); break;
                case 11: ttft = Field(stream, tag, Fixed64).ReadDouble(); break;
                case 12: total = Field(stream, tag, Fixed64).ReadDouble(); break;
                case 13: ticks = Field(stream, tag, Fixed64).ReadSFixed64(); break;
                case 14: offsetMinutes = Field(stream, tag, Varint).ReadSInt32(); break;
                case 15: callTtft = Field(stream, tag, Fixed64).ReadDouble(); break;
                default: stream.SkipLastField(); break;
            }
        }
        if (scale > 28)
            throw new SerializationException($"done.v2: cost scale {scale} is out of range");
        if (units == long.MinValue)
            throw new SerializationException("done.v2: cost is out of range");
        var magnitude = (ulong)Math.Abs(units);
        var cost = costText ?? new decimal((int)(uint)magnitude, (int)(uint)(magnitude >> 32), 0, units < 0, (byte)scale);
        return new ExecutionCompleted(Required(taskId, "task id"), Required(text, "text"),
            new TokenUsage(input, output, cached, estimated), cost, ttft,
            total ?? throw new SerializationException("done.v2: total time is missing"), Time(ticks, offsetMinutes), callTtft);
    }

    private static byte[] Encode<T>(int max, T value, Action<CodedOutputStream, T> write)
    {
        var buffer = new byte[max];
        var output = new CodedOutputStream(buffer);
        write(output, value);
        output.Flush();
        var length = max - output.SpaceLeft;
        return length == max ? buffer : buffer.AsSpan(0, length).ToArray();
    }

    private static int Max(string? s) => s is null ? 0 : 6 + Encoding.UTF8.GetMaxByteCount(s.Length);

    private static void WriteString(CodedOutputStream o, int field, string value)
    {
        o.WriteTag(field, WireFormat.WireType.LengthDelimited);
        o.WriteString(value);
    }

    private static void WriteInt64(CodedOutputStream o, int field, long value)
    {
        if (value == 0)
            return;
        o.WriteTag(field, WireFormat.WireType.Varint);
        o.WriteInt64(value);
    }

    private static void WriteDouble(CodedOutputStream o, int field, double value)
    {
        o.WriteTag(field, WireFormat.WireType.Fixed64);
        o.WriteDouble(value);
    }

    /// <summary>Field <paramref name="field"/>: the id as 16 bytes; field + 1: the id as a string.</summary>
    private static void WriteId(CodedOutputStream o, int field, string id)
    {
        Span<byte> raw = stackalloc byte[16];
        if (IsLowerHex32(id) && Convert.FromHexString(id, raw, out _, out var written) == System.Buffers.OperationStatus.Done && written == 16)
        {
            o.WriteTag(field, WireFormat.WireType.LengthDelimited);
            o.WriteBytes(ByteString.CopyFrom(raw));
        }
        else
            WriteString(o, field + 1, id);
    }

    private static void WriteTime(CodedOutputStream o, int field, DateTimeOffset at)
    {
        o.WriteTag(field, WireFormat.WireType.Fixed64);
        o.WriteSFixed64(at.UtcTicks);
        var offset = (int)at.Offset.TotalMinutes;
        if (offset != 0)
        {
            o.WriteTag(field + 1, WireFormat.WireType.Varint);
            o.WriteSInt32(offset);
        }
    }

    /// <summary>Exact: the unscaled value and the scale when it fits 64 bits (so 0.000560 stays 0.000560), else text.</summary>
    private static void WriteDecimal(CodedOutputStream o, int field, decimal value)
    {
        Span<int> bits = stackalloc int[4];
        decimal.GetBits(value, bits);
        var negative = bits[3] < 0;
        var scale = (bits[3] >> 16) & 0xFF;
        if (bits[2] == 0 && (uint)bits[1] <= int.MaxValue)
        {
            var magnitude = ((long)(uint)bits[1] << 32) | (uint)bits[0];
            if (magnitude != 0)
            {
                o.WriteTag(field, WireFormat.WireType.Varint);
                o.WriteSInt64(negative ? -magnitude : magnitude);
            }
            if (scale != 0)
            {
                o.WriteTag(field + 1, WireFormat.WireType.Varint);
                o.WriteUInt32((uint)scale);
            }
            return;
        }
        WriteString(o, field + 2, value.ToString(CultureInfo.InvariantCulture));
    }

    private static bool IsLowerHex32(string s)
    {
        if (s.Length != 32)
            return false;
        foreach (var c in s)
            if (!char.IsAsciiDigit(c) && c is < 'a' or > 'f')
                return false;
        return true;
    }

    private static void Expect(uint tag, WireFormat.WireType type)
    {
        if (WireFormat.GetTagWireType(tag) != type)
            throw new SerializationException(
                $"field {WireFormat.GetTagFieldNumber(tag)} has wire type {WireFormat.GetTagWireType(tag)}, expected {type}");
    }

    /// <summary>The stream, once the field's wire type is checked.</summary>
    private static CodedInputStream Field(CodedInputStream input, uint tag, WireFormat.WireType type)
    {
        Expect(tag, type);
        return input;
    }

    /// <summary>Field <paramref name="bytesField"/>: 16 bytes, read back as 32 lowercase hex digits; the next: the string.</summary>
    private static string ReadId(CodedInputStream input, uint tag, int bytesField)
    {
        Expect(tag, LengthDelimited);
        if (WireFormat.GetTagFieldNumber(tag) != bytesField)
            return input.ReadString();
        var raw = input.ReadBytes();
        if (raw.Length != 16)
            throw new SerializationException($"field {WireFormat.GetTagFieldNumber(tag)}: an id of {raw.Length} bytes, expected 16");
        return Convert.ToHexStringLower(raw.Span);
    }

    private static DateTimeOffset Time(long? ticks, int offsetMinutes)
    {
        if (ticks is not { } t)
            throw new SerializationException("the event's time is missing");
        if (t < DateTime.MinValue.Ticks || t > DateTime.MaxValue.Ticks || Math.Abs(offsetMinutes) > 14 * 60)
            throw new SerializationException("the event's time is out of range");
        return new DateTimeOffset(t, TimeSpan.Zero).ToOffset(TimeSpan.FromMinutes(offsetMinutes));
    }

    private static string Required(string? value, string what) =>
        value ?? throw new SerializationException($"the event's {what} is missing");
}
