namespace PromptActors.Models;

/// <summary>
/// A model provider call failed. The message says what happened in one line (status, attempts, how many updates had
/// streamed) and never carries an API key; the provider's own exception is the <see cref="Exception.InnerException"/>.
/// </summary>
/// <remarks><see cref="GetBaseException"/> returns this exception rather than the innermost one: callers that report
/// <c>ex.GetBaseException().Message</c> (the engine does) get this summary instead of a transport detail such as
/// "The response ended prematurely".</remarks>
public sealed class ModelProviderException(string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>The HTTP status the provider answered with, when it answered.</summary>
    public int? StatusCode { get; init; }

    /// <summary>How many times the request was sent.</summary>
    public int Attempts { get; init; } = 1;

    /// <summary>How many updates had reached the consumer before the failure (0: nothing streamed).</summary>
    public int UpdatesReceived { get; init; }

    /// <summary>Whether the failure was of a kind that is retried before the first update.</summary>
    public bool Transient { get; init; }

    public override Exception GetBaseException() => this;
}
