using System.ClientModel;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace PromptActors.Models;

/// <summary>Classifies provider failures: which are transient, what HTTP status, what Retry-After, what detail to show.</summary>
internal static class ProviderErrors
{
    private const int MaxDetail = 300;

    public static int? StatusOf(Exception ex) => ex switch
    {
        ClientResultException { Status: > 0 } c => c.Status,
        HttpRequestException { StatusCode: { } s } => (int)s,
        _ => null,
    };

    public static bool IsTransientStatus(int status) =>
        status is 408 or 429 || (status >= 500 && status != 501 && status != 505);

    /// <summary>No HTTP answer at all: connection refused or reset, DNS, TLS, the body ended early.</summary>
    public static bool IsConnectionFailure(Exception ex)
    {
        if (StatusOf(ex) is not null)
            return false;
        for (var e = ex; e is not null; e = e.InnerException)
        {
            if (e is HttpRequestException or IOException or SocketException)
                return true;
        }
        return false;
    }

    public static bool IsMalformed(Exception ex)
    {
        for (var e = ex; e is not null; e = e.InnerException)
        {
            if (e is JsonException or FormatException)
                return true;
        }
        return false;
    }

    /// <summary>Transient and worth retrying before the first update. Cancellation and idle timeouts never are.</summary>
    public static bool IsTransient(Exception ex) => ex switch
    {
        OperationCanceledException or TimeoutException => false,
        _ when StatusOf(ex) is { } status => IsTransientStatus(status),
        _ => IsConnectionFailure(ex),
    };

    /// <summary>The delay the provider asked for (<c>retry-after-ms</c>, <c>Retry-After</c> in seconds or as a date).</summary>
    public static TimeSpan? RetryAfter(Exception ex, TimeProvider time)
    {
        if (ex is not ClientResultException c || c.GetRawResponse() is not { } response)
            return null;
        if (response.Headers.TryGetValue("retry-after-ms", out var ms)
            && double.TryParse(ms, NumberStyles.Float, CultureInfo.InvariantCulture, out var millis) && millis >= 0)
            return TimeSpan.FromMilliseconds(millis);
        if (response.Headers.TryGetValue("Retry-After", out var value) && value is not null)
        {
            if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds >= 0)
                return TimeSpan.FromSeconds(seconds);
            if (DateTimeOffset.TryParseExact(value.Trim(), "r", CultureInfo.InvariantCulture,
                    DateTimeStyles.AssumeUniversal, out var at))
            {
                var delay = at - time.GetUtcNow();
                return delay > TimeSpan.Zero ? delay : TimeSpan.Zero;
            }
        }
        return null;
    }

    /// <summary>A short, single-line description of the failure: the provider's error message when it sent one.</summary>
    public static string Detail(Exception ex)
    {
        string? detail = null;
        if (ex is ClientResultException c)
            detail = ErrorMessageFromBody(c);
        if (string.IsNullOrWhiteSpace(detail))
        {
            // Without an HTTP answer the innermost exception says what happened ("Connection refused",
            // "The response ended prematurely"); the wrappers around it only say "An error occurred…".
            detail = StatusOf(ex) is null ? Innermost(ex).Message : ex.Message;
        }
        detail = string.Join(' ', detail.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        return detail.Length <= MaxDetail ? detail : detail[..MaxDetail] + "…";
    }

    private static Exception Innermost(Exception ex)
    {
        while (ex.InnerException is { } inner)
            ex = inner;
        return ex;
    }

    private static string? ErrorMessageFromBody(ClientResultException ex)
    {
        try
        {
            var content = ex.GetRawResponse()?.Content;
            if (content is null || content.ToMemory().Length == 0)
                return null;
            using var doc = JsonDocument.Parse(content.ToMemory());
            if (doc.RootElement.ValueKind == JsonValueKind.Object
                && doc.RootElement.TryGetProperty("error", out var error))
            {
                if (error.ValueKind == JsonValueKind.String)
                    return error.GetString();
                if (error.ValueKind == JsonValueKind.Object && error.TryGetProperty("message", out var message)
                    && message.ValueKind == JsonValueKind.String)
                    return message.GetString();
            }
            return null;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or ObjectDisposedException)
        {
            return null;
        }
    }

    public static string StatusText(int status) =>
        Enum.IsDefined(typeof(HttpStatusCode), status) ? $"HTTP {status} ({SplitWords(((HttpStatusCode)status).ToString())})" : $"HTTP {status}";

    private static string SplitWords(string name)
    {
        var sb = new System.Text.StringBuilder(name.Length + 4);
        for (var i = 0; i < name.Length; i++)
        {
            if (i > 0 && char.IsUpper(name[i]) && !char.IsUpper(name[i - 1]))
                sb.Append(' ');
            sb.Append(name[i]);
        }
        return sb.ToString();
    }
}
