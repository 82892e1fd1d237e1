namespace PromptActors.Models;

/// <summary>The provider kinds a model entry can name in <c>PromptActors:Models:&lt;id&gt;:Provider</c>.</summary>
public static class ModelProviders
{
    /// <summary>The built-in model: no network, deterministic (<see cref="LocalChatClient"/>).</summary>
    public const string Local = "local";

    /// <summary>An OpenAI-compatible chat completions endpoint: OpenAI, Azure OpenAI's v1 endpoint, Ollama, vLLM,
    /// llama.cpp, LM Studio.</summary>
    public const string OpenAI = "openai";
}

/// <summary>
/// Settings of one model, bound from <c>PromptActors:Models:&lt;id&gt;</c>. Plain settable properties, so the standard
/// configuration binder works too; <see cref="ModelRegistryFactory.FromConfiguration"/> reads them itself to report
/// unknown keys and bad values by their configuration path.
/// </summary>
public sealed class ModelOptions
{
    /// <summary>Where the models live in configuration.</summary>
    public const string SectionPath = "PromptActors:Models";

    /// <summary>The public OpenAI API, used when an <c>openai</c> entry names no endpoint.</summary>
    public static readonly Uri OpenAIEndpoint = new("https://api.openai.com/v1");

    public static readonly TimeSpan DefaultIdleTimeout = TimeSpan.FromSeconds(60);
    public const int DefaultMaxRetries = 3;
    public static readonly TimeSpan DefaultRetryDelay = TimeSpan.FromSeconds(1);

    /// <summary><c>local</c> or <c>openai</c>. When absent: <c>local</c> for the id <c>local</c>, <c>openai</c> when an
    /// <see cref="Endpoint"/> is set, an error otherwise.</summary>
    public string? Provider { get; set; }

    /// <summary>Base URL of an OpenAI-compatible API, e.g. <c>http://127.0.0.1:11434/v1</c> (Ollama) or
    /// <c>https://RESOURCE.openai.azure.com/openai/v1</c>; absent means the public OpenAI API.</summary>
    public string? Endpoint { get; set; }

    /// <summary>The provider's model name; defaults to the entry's id.</summary>
    public string? Model { get; set; }

    /// <summary>Name of the environment variable holding the API key. The key itself is never configuration.
    /// Optional for servers that need no key (Ollama, vLLM, llama.cpp, LM Studio), required for the public OpenAI API.</summary>
    public string? ApiKeyEnv { get; set; }

    /// <summary>Headers sent with every request (e.g. <c>OpenAI-Organization</c>, <c>X-Title</c>). Not for the key.</summary>
    public Dictionary<string, string> Headers { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Price per one million input tokens.</summary>
    public decimal InputPerMillion { get; set; }

    /// <summary>Price per one million output tokens.</summary>
    public decimal OutputPerMillion { get; set; }

    /// <summary>Price per one million cached input tokens.</summary>
    public decimal CachedInputPerMillion { get; set; }

    /// <summary>A call that produces no update for this long is cancelled and fails with a <see cref="TimeoutException"/>
    /// (default 60 s). Raise it for reasoning models that think long before their first token.</summary>
    public TimeSpan? IdleTimeout { get; set; }

    /// <summary>Retries of transient errors raised before the first update (default 3; 0 disables).</summary>
    public int? MaxRetries { get; set; }

    /// <summary>Median delay of the first retry; later ones grow exponentially, with jitter (default 1 s).</summary>
    public TimeSpan? RetryDelay { get; set; }

    /// <summary><c>local</c> only: pause before each word.</summary>
    public TimeSpan? WordDelay { get; set; }

    /// <summary><c>local</c> only: every reply has exactly this many words.</summary>
    public int? ReplyWords { get; set; }

    /// <summary>Makes this model the one used when a prompt names none (at most one entry). Without it the default is
    /// <c>local</c>.</summary>
    public bool Default { get; set; }

    /// <summary><c>false</c> leaves the entry out; this is how the built-in <c>local</c> model is turned off.</summary>
    public bool Enabled { get; set; } = true;

    internal ModelPricing Pricing => new(InputPerMillion, OutputPerMillion, CachedInputPerMillion);
}

/// <summary>The model configuration is invalid; <see cref="Errors"/> lists every problem, each naming its key.</summary>
public sealed class ModelConfigurationException(IReadOnlyList<string> errors)
    : Exception("Invalid model configuration:" + Environment.NewLine + string.Join(Environment.NewLine, errors.Select(e => "  - " + e)))
{
    public IReadOnlyList<string> Errors { get; } = errors;
}
