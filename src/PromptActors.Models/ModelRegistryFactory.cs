using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace PromptActors.Models;

/// <summary>
/// Builds the <see cref="ModelRegistry"/> from configuration (<c>PromptActors:Models:&lt;id&gt;</c>, see
/// <see cref="ModelOptions"/>). Every entry is validated first and all problems are reported together, each naming
/// its key. The built-in <c>local</c> model is always present unless an entry named <c>local</c> replaces it or turns
/// it off (<c>Enabled=false</c>). An <c>openai</c> entry becomes this Microsoft.Extensions.AI pipeline, outermost first:
/// call logging → retries before the first update → idle timeout (per attempt) → the OpenAI .NET client.
/// API keys are read from the environment variable named by <c>ApiKeyEnv</c> and never appear in configuration,
/// logs or exception messages.
/// </summary>
public static partial class ModelRegistryFactory
{
    private static readonly string[] KnownSettings =
    [
        nameof(ModelOptions.Provider), nameof(ModelOptions.Endpoint), nameof(ModelOptions.Model), nameof(ModelOptions.ApiKeyEnv),
        nameof(ModelOptions.Headers), nameof(ModelOptions.InputPerMillion), nameof(ModelOptions.OutputPerMillion),
        nameof(ModelOptions.CachedInputPerMillion), nameof(ModelOptions.IdleTimeout), nameof(ModelOptions.MaxRetries),
        nameof(ModelOptions.RetryDelay), nameof(ModelOptions.WordDelay), nameof(ModelOptions.ReplyWords),
        nameof(ModelOptions.Default), nameof(ModelOptions.Enabled),
    ];

    private static readonly string[] SecretSettings = ["ApiKey", "Key", "Api_Key", "Token", "Secret", "Password", "BearerToken"];

    /// <summary>Reads <c>PromptActors:Models</c> from <paramref name="configuration"/> and builds the registry.
    /// This is what a host calls at start-up.</summary>
    /// <exception cref="ModelConfigurationException">Any setting is unknown or invalid; every problem is listed.</exception>
    public static ModelRegistry FromConfiguration(IConfiguration configuration, TimeProvider? time = null,
        ILoggerFactory? loggerFactory = null, Func<string, string?>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var section = configuration.GetSection(ModelOptions.SectionPath);
        return Create(ReadOptions(section), time, loggerFactory, environment, section.Path);
    }

    /// <summary>Reads model entries from a <c>PromptActors:Models</c> section, rejecting unknown keys (a typo, or an
    /// attempt to put a key in configuration) and values that do not parse, by their configuration path.</summary>
    public static IDictionary<string, ModelOptions> ReadOptions(IConfigurationSection section)
    {
        ArgumentNullException.ThrowIfNull(section);
        var errors = new List<string>();
        var models = new Dictionary<string, ModelOptions>(StringComparer.Ordinal);
        foreach (var entry in section.GetChildren())
        {
            var settings = entry.GetChildren().ToList();
            if (settings.Count == 0)
            {
                errors.Add(entry.Value is null
                    ? $"{entry.Path} is empty"
                    : $"{entry.Path} must be a section of settings (Provider, Endpoint, Model…), not a single value");
                continue;
            }

            var o = new ModelOptions();
            foreach (var s in settings)
            {
                switch (s.Key.ToLowerInvariant())
                {
                    case "provider": o.Provider = Scalar(s, errors); break;
                    case "endpoint": o.Endpoint = Scalar(s, errors); break;
                    case "model": o.Model = Scalar(s, errors); break;
                    case "apikeyenv": o.ApiKeyEnv = Scalar(s, errors); break;
                    case "headers":
                        foreach (var h in s.GetChildren())
                        {
                            if (h.GetChildren().Any())
                                errors.Add($"{h.Path} must be a single value");
                            else
                                o.Headers[h.Key] = h.Value ?? string.Empty;
                        }
                        break;
                    case "inputpermillion": o.InputPerMillion = Parse(s, errors, TryDecimal, "a number", o.InputPerMillion); break;
                    case "outputpermillion": o.OutputPerMillion = Parse(s, errors, TryDecimal, "a number", o.OutputPerMillion); break;
                    case "cachedinputpermillion": o.CachedInputPerMillion = Parse(s, errors, TryDecimal, "a number", o.CachedInputPerMillion); break;
                    case "idletimeout": o.IdleTimeout = Parse<TimeSpan?>(s, errors, TryDuration, "a duration like 00:00:30, 30s or 500ms", null); break;
                    case "retrydelay": o.RetryDelay = Parse<TimeSpan?>(s, errors, TryDuration, "a duration like 00:00:01, 1s or 200ms", null); break;
                    case "worddelay": o.WordDelay = Parse<TimeSpan?>(s, errors, TryDuration, "a duration like 00:00:00.05 or 50ms", null); break;
                    case "maxretries": o.MaxRetries = Parse<int?>(s, errors, TryInt, "a whole number", null); break;
                    case "replywords": o.ReplyWords = Parse<int?>(s, errors, TryInt, "a whole number", null); break;
                    case "default": o.Default = Parse(s, errors, TryBool, "true or false", false); break;
                    case "enabled": o.Enabled = Parse(s, errors, TryBool, "true or false", true); break;
                    default:
                        if (SecretSettings.Contains(s.Key, StringComparer.OrdinalIgnoreCase))
                            errors.Add($"{s.Path} is not allowed: keys never go in configuration; put the key in an environment " +
                                       $"variable and name that variable in {entry.Path}:ApiKeyEnv");
                        else
                            errors.Add($"{s.Path} is not a known model setting (known: {string.Join(", ", KnownSettings)})");
                        break;
                }
            }
            models[entry.Key] = o;
        }
        if (errors.Count > 0)
            throw new ModelConfigurationException(errors);
        return models;
    }

    /// <summary>Validates <paramref name="models"/> and builds a registry of their chat clients.</summary>
    /// <param name="models">Entries by model id, as under <c>PromptActors:Models</c>.</param>
    /// <param name="time">Clock for retry delays, idle timeouts and the local model's word delay.</param>
    /// <param name="loggerFactory">Where calls, retries and the registry's contents are logged (never secrets).</param>
    /// <param name="environment">Reads environment variables (API keys); <see cref="Environment.GetEnvironmentVariable(string)"/> by default.</param>
    /// <param name="sectionPath">The configuration path named in error messages.</param>
    /// <exception cref="ModelConfigurationException">Any entry is invalid; every problem is listed, each naming its key.</exception>
    public static ModelRegistry Create(IDictionary<string, ModelOptions> models, TimeProvider? time = null,
        ILoggerFactory? loggerFactory = null, Func<string, string?>? environment = null,
        string sectionPath = ModelOptions.SectionPath)
    {
        ArgumentNullException.ThrowIfNull(models);
        time ??= TimeProvider.System;
        loggerFactory ??= NullLoggerFactory.Instance;
        environment ??= Environment.GetEnvironmentVariable;
        var log = loggerFactory.CreateLogger(typeof(ModelRegistryFactory).FullName!);

        var errors = new List<string>();
        var plans = new List<Plan>();
        foreach (var (id, options) in models.OrderBy(m => m.Key, StringComparer.Ordinal))
        {
            if (Validate(id, options, sectionPath, environment, errors) is { } plan)
                plans.Add(plan);
        }

        var localConfigured = models.Keys.Any(k => string.Equals(k, LocalChatClient.ModelId, StringComparison.Ordinal));
        if (!localConfigured)
            plans.Add(new Plan(LocalChatClient.ModelId, ModelProviders.Local, new ModelOptions(), null, LocalChatClient.ModelId, null, null));

        var defaults = plans.Where(p => p.Options.Default).Select(p => p.Id).ToList();
        string? defaultId = null;
        if (defaults.Count > 1)
            errors.Add($"{sectionPath}: only one model may set Default=true (found {string.Join(", ", defaults)})");
        else if (defaults.Count == 1)
            defaultId = defaults[0];
        else if (plans.Any(p => p.Id == LocalChatClient.ModelId))
            defaultId = LocalChatClient.ModelId;
        else if (plans.Count == 1)
            defaultId = plans[0].Id;
        else if (plans.Count == 0 && errors.Count == 0)
            errors.Add($"{sectionPath}: no model is enabled");
        else if (errors.Count == 0)
            errors.Add($"{sectionPath}: the local model is off, so set Default=true on one of: {string.Join(", ", plans.Select(p => p.Id))}");

        if (errors.Count > 0)
            throw new ModelConfigurationException(errors);

        var entries = plans.Select(p => Build(p, time, loggerFactory, log)).ToList();
        LogRegistry(log, entries.Count, defaultId!);
        return new ModelRegistry(entries, defaultId!);
    }

    private sealed record Plan(string Id, string Provider, ModelOptions Options, Uri? Endpoint, string Model, string? ApiKeyEnv,
        string? ApiKey);

    private static Plan? Validate(string id, ModelOptions? o, string sectionPath, Func<string, string?> environment,
        List<string> errors)
    {
        var key = $"{sectionPath}:{id}";
        if (string.IsNullOrWhiteSpace(id) || id != id.Trim())
        {
            errors.Add($"{sectionPath} has a model id '{id}' that is empty or has surrounding spaces");
            return null;
        }
        if (o is null)
        {
            errors.Add($"{key} is empty");
            return null;
        }
        if (!o.Enabled)
            return null;

        var count = errors.Count;
        var provider = o.Provider?.Trim().ToLowerInvariant()
                       ?? (o.Endpoint is not null ? ModelProviders.OpenAI : id == LocalChatClient.ModelId ? ModelProviders.Local : null);
        if (provider is null)
            errors.Add($"{key}:Provider is required ('{ModelProviders.Local}' or '{ModelProviders.OpenAI}')");
        else if (provider is not (ModelProviders.Local or ModelProviders.OpenAI))
            errors.Add($"{key}:Provider '{o.Provider}' is unknown; use '{ModelProviders.Local}' or '{ModelProviders.OpenAI}'");

        NotNegative(o.InputPerMillion, $"{key}:{nameof(o.InputPerMillion)}", errors);
        NotNegative(o.OutputPerMillion, $"{key}:{nameof(o.OutputPerMillion)}", errors);
        NotNegative(o.CachedInputPerMillion, $"{key}:{nameof(o.CachedInputPerMillion)}", errors);
        if (o.IdleTimeout is { } idle && (idle <= TimeSpan.Zero || idle > TimeSpan.FromDays(1)))
            errors.Add($"{key}:IdleTimeout must be positive and at most a day (got {idle})");
        if (o.MaxRetries is < 0 or > 10)
            errors.Add($"{key}:MaxRetries must be between 0 and 10 (got {o.MaxRetries})");
        if (o.RetryDelay is { } rd && (rd < TimeSpan.Zero || rd > TimeSpan.FromMinutes(5)))
            errors.Add($"{key}:RetryDelay must be between 0 and 5 minutes (got {rd})");

        Uri? endpoint = null;
        string? apiKey = null;
        var model = string.IsNullOrWhiteSpace(o.Model) ? id : o.Model.Trim();
        if (provider == ModelProviders.Local)
        {
            foreach (var (name, set) in new[]
                     {
                         (nameof(o.Endpoint), o.Endpoint is not null), (nameof(o.ApiKeyEnv), o.ApiKeyEnv is not null),
                         (nameof(o.Headers), o.Headers is { Count: > 0 }), (nameof(o.Model), o.Model is not null),
                         (nameof(o.IdleTimeout), o.IdleTimeout is not null), (nameof(o.MaxRetries), o.MaxRetries is not null),
                         (nameof(o.RetryDelay), o.RetryDelay is not null),
                     })
            {
                if (set)
                    errors.Add($"{key}:{name} applies only to provider '{ModelProviders.OpenAI}'");
            }
            if (o.WordDelay is { } wd && (wd < TimeSpan.Zero || wd > TimeSpan.FromMinutes(1)))
                errors.Add($"{key}:WordDelay must be between 0 and 1 minute (got {wd})");
            if (o.ReplyWords is < 1)
                errors.Add($"{key}:ReplyWords must be at least 1 (got {o.ReplyWords})");
            model = LocalChatClient.ModelId;
        }
        else if (provider == ModelProviders.OpenAI)
        {
            if (o.WordDelay is not null)
                errors.Add($"{key}:WordDelay applies only to provider '{ModelProviders.Local}'");
            if (o.ReplyWords is not null)
                errors.Add($"{key}:ReplyWords applies only to provider '{ModelProviders.Local}'");

            if (o.Endpoint is not null)
            {
                if (!Uri.TryCreate(o.Endpoint.Trim(), UriKind.Absolute, out endpoint)
                    || (endpoint.Scheme != Uri.UriSchemeHttp && endpoint.Scheme != Uri.UriSchemeHttps))
                {
                    errors.Add($"{key}:Endpoint must be an absolute http(s) URL");
                    endpoint = null;
                }
                else if (!string.IsNullOrEmpty(endpoint.UserInfo))
                {
                    errors.Add($"{key}:Endpoint must not carry credentials; name the key's environment variable in {key}:ApiKeyEnv");
                    endpoint = null;
                }
            }

            if (o.ApiKeyEnv is { } envName)
            {
                if (string.IsNullOrWhiteSpace(envName) || envName.Any(c => c == '=' || c == '\0' || char.IsWhiteSpace(c)))
                    errors.Add($"{key}:ApiKeyEnv must be the name of an environment variable");
                else
                {
                    apiKey = environment(envName);
                    if (string.IsNullOrEmpty(apiKey))
                    {
                        errors.Add($"{key}:ApiKeyEnv names the environment variable '{envName}', which is not set");
                        apiKey = null;
                    }
                    else
                        apiKey = apiKey.Trim();
                }
            }
            else if (o.Endpoint is null)
                errors.Add($"{key}:ApiKeyEnv is required for the public OpenAI endpoint (set Endpoint for a server that needs no key)");

            foreach (var (name, value) in o.Headers ?? [])
            {
                if (name.Length == 0 || !name.All(IsTokenChar))
                    errors.Add($"{key}:Headers:{name} is not a valid header name");
                else if (name.Equals("Authorization", StringComparison.OrdinalIgnoreCase))
                    errors.Add($"{key}:Headers:{name} is not allowed; the key comes from the variable named in {key}:ApiKeyEnv");
                else if (value is null || value.Any(c => c is '\r' or '\n' or '\0'))
                    errors.Add($"{key}:Headers:{name} must be a single-line value");
            }
        }

        if (errors.Count > count || provider is null)
            return null;
        return new Plan(id, provider, o, endpoint, model, o.ApiKeyEnv, apiKey);
    }

    private static bool IsTokenChar(char c) =>
        char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c);

    private static void NotNegative(decimal value, string key, List<string> errors)
    {
        if (value < 0)
            errors.Add($"{key} must be zero or more (got {value.ToString(CultureInfo.InvariantCulture)})");
    }

    private static string? Scalar(IConfigurationSection s, List<string> errors)
    {
        if (s.GetChildren().Any())
        {
            errors.Add($"{s.Path} must be a single value");
            return null;
        }
        return s.Value;
    }

    private delegate bool TryParser<T>(string text, out T value);

    private static T Parse<T>(IConfigurationSection s, List<string> errors, TryParser<T> parse, string expected, T fallback)
    {
        var text = Scalar(s, errors);
        if (string.IsNullOrWhiteSpace(text))
            return fallback;
        if (parse(text.Trim(), out var value))
            return value;
        errors.Add($"{s.Path} must be {expected} (got '{text}')");
        return fallback;
    }

    private static bool TryDecimal(string text, out decimal value) =>
        decimal.TryParse(text, NumberStyles.Number, CultureInfo.InvariantCulture, out value);

    private static bool TryInt(string text, out int? value)
    {
        var ok = int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v);
        value = ok ? v : null;
        return ok;
    }

    private static bool TryBool(string text, out bool value) => bool.TryParse(text, out value);

    /// <summary>Accepts <c>00:00:30</c> (TimeSpan) or a number with a unit: <c>500ms</c>, <c>30s</c>, <c>2m</c>, <c>1h</c>.</summary>
    internal static bool TryDuration(string text, out TimeSpan? value)
    {
        value = null;
        (string unit, double scale)[] units = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)];
        foreach (var (unit, scale) in units)
        {
            if (text.EndsWith(unit, StringComparison.OrdinalIgnoreCase)
                && double.TryParse(text[..^unit.Length].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var n)
                && double.IsFinite(n))
            {
                value = TimeSpan.FromMilliseconds(n * scale);
                return true;
            }
        }
        if (text.Contains(':') && TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var ts))
        {
            value = ts;
            return true;
        }
        return false;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Model registry: {Count} models, default '{DefaultModelId}'")]
    private static partial void LogRegistry(ILogger logger, int count, string defaultModelId);
}
