using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace PromptActors.Telemetry;

/// <summary>The GenAI semantic conventions' request attributes and (when content capture is on) message attributes.</summary>
internal static class GenAiContent
{
    /// <summary>The request's parameters a model call ran with (<c>gen_ai.request.*</c>); settings not set are left out.</summary>
    public static void TagRequest(Activity span, ChatOptions options)
    {
        if (options.Temperature is { } temperature)
            span.SetTag("gen_ai.request.temperature", (double)temperature);
        if (options.TopP is { } topP)
            span.SetTag("gen_ai.request.top_p", (double)topP);
        if (options.TopK is { } topK)
            span.SetTag("gen_ai.request.top_k", (double)topK);
        if (options.MaxOutputTokens is { } maxTokens)
            span.SetTag("gen_ai.request.max_tokens", maxTokens);
        if (options.Seed is { } seed)
            span.SetTag("gen_ai.request.seed", seed);
        if (options.FrequencyPenalty is { } frequency)
            span.SetTag("gen_ai.request.frequency_penalty", (double)frequency);
        if (options.PresencePenalty is { } presence)
            span.SetTag("gen_ai.request.presence_penalty", (double)presence);
        if (options.StopSequences is { Count: > 0 } stop)
            span.SetTag("gen_ai.request.stop_sequences", stop.ToArray());
        if (PromptActorsTelemetry.LatestExperimental && options.ResponseFormat is { } format)
            span.SetTag("gen_ai.output.type", format is ChatResponseFormatText ? "text" : "json");
    }

    /// <summary>One message in the experimental conventions' JSON form (<c>gen_ai.input.messages</c> / <c>output.messages</c>).</summary>
    public static string Messages(string role, string text, string? finishReason)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartArray();
            json.WriteStartObject();
            json.WriteString("role", role);
            json.WriteStartArray("parts");
            json.WriteStartObject();
            json.WriteString("type", "text");
            json.WriteString("content", text);
            json.WriteEndObject();
            json.WriteEndArray();
            if (finishReason is not null)
                json.WriteString("finish_reason", finishReason);
            json.WriteEndObject();
            json.WriteEndArray();
        }
        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
