namespace PromptActors;

/// <summary>The stable error codes of the engine (DESIGN §8). HTTP problem+json carries the same strings.</summary>
public static class ErrorCodes
{
    public const string ValidationFailed = "validation_failed";
    public const string PromptNotFound = "prompt_not_found";
    public const string InstanceNotFound = "instance_not_found";
    /// <summary>The caller acts outside its scope (a key starting an instance or listing runs for someone else).</summary>
    public const string Forbidden = "forbidden";
    /// <summary>A scope (its variables) the caller may not use; the same answer as a scope that does not exist.</summary>
    public const string NotFound = "not_found";
    /// <summary>A stream resume names a task this instance does not know (never another task's reply instead).</summary>
    public const string TaskNotFound = "task_not_found";
    public const string InstanceExists = "instance_exists";
    public const string MissingVariables = "missing_variables";
    public const string InstanceBusy = "instance_busy";
    public const string ChatNotAllowed = "chat_not_allowed";
    public const string InstanceExpired = "instance_expired";
    public const string ProviderError = "provider_error";
    public const string StoreUnavailable = "store_unavailable";
    public const string Interrupted = "interrupted";
    /// <summary>The reply is not the JSON the prompt's response format asks for (the raw text is kept).</summary>
    public const string InvalidOutput = "invalid_output";
    /// <summary>The turn made settings.maxIterations model calls and the model still asked for tools.</summary>
    public const string MaxIterations = "max_iterations";
    /// <summary>A tool call was approved or rejected already (409).</summary>
    public const string AlreadyDecided = "already_decided";
    /// <summary>The instance's running turn has no tool call with this id waiting (404).</summary>
    public const string ToolCallNotFound = "tool_call_not_found";
    /// <summary>A result was posted for a tool call that does not wait for one from the caller (409).</summary>
    public const string ToolCallNotAwaiting = "tool_call_not_awaiting";
    /// <summary>A reply-stream subscriber could not keep up and was dropped (terminal event of that subscriber only).</summary>
    public const string SubscriberTooSlow = "subscriber_too_slow";
    /// <summary>A message part, or a message's parts together, are larger than the configured limit (413).</summary>
    public const string PayloadTooLarge = "payload_too_large";
    /// <summary>A part's media type is not one the engine accepts for its kind (415).</summary>
    public const string UnsupportedMediaType = "unsupported_media_type";
    /// <summary>No attachment with this hash that the caller may read (404; a foreign one answers the same).</summary>
    public const string AttachmentNotFound = "attachment_not_found";
    public const string Cancelled = "cancelled";
    public const string Timeout = "timeout";
    /// <summary>The engine failed while handling the command (a defect, logged as an error with the details).</summary>
    public const string InternalError = "internal_error";
}

/// <summary>A typed refusal: the command changed nothing.</summary>
public sealed record Rejected(string Code, string Detail, IReadOnlyList<string>? Missing = null) : IPromptActorsMessage
{
    public PromptActorsException ToException() => PromptActorsException.From(this);
}

/// <summary>Base of every error the embedding API throws; <see cref="Code"/> is one of <see cref="ErrorCodes"/>.</summary>
public class PromptActorsException : Exception
{
    public PromptActorsException(string code, string detail, Exception? inner = null) : base(detail, inner)
    {
        Code = code;
    }

    public string Code { get; }

    public static PromptActorsException From(Rejected r) => r.Code switch
    {
        ErrorCodes.ValidationFailed => new ValidationFailedException(r.Detail),
        ErrorCodes.PromptNotFound => new PromptNotFoundException(r.Detail),
        ErrorCodes.InstanceNotFound => new InstanceNotFoundException(r.Detail),
        ErrorCodes.TaskNotFound => new TaskNotFoundException(r.Detail),
        ErrorCodes.MissingVariables => new MissingVariablesException(r.Missing ?? [], r.Detail),
        ErrorCodes.InstanceBusy => new InstanceBusyException(r.Detail),
        ErrorCodes.ChatNotAllowed => new ChatNotAllowedException(r.Detail),
        ErrorCodes.InstanceExpired => new InstanceExpiredException(r.Detail),
        ErrorCodes.ProviderError => new ProviderErrorException(r.Detail),
        ErrorCodes.StoreUnavailable => new StoreUnavailableException(r.Detail),
        ErrorCodes.Forbidden => new ForbiddenException(r.Detail),
        ErrorCodes.PayloadTooLarge => new PayloadTooLargeException(r.Detail),
        ErrorCodes.UnsupportedMediaType => new UnsupportedMediaTypeException(r.Detail),
        _ => new PromptActorsException(r.Code, r.Detail),
    };
}

public sealed class ValidationFailedException(string detail) : PromptActorsException(ErrorCodes.ValidationFailed, detail);
public sealed class PromptNotFoundException(string detail) : PromptActorsException(ErrorCodes.PromptNotFound, detail);
public sealed class InstanceNotFoundException(string detail) : PromptActorsException(ErrorCodes.InstanceNotFound, detail);
public sealed class ForbiddenException(string detail) : PromptActorsException(ErrorCodes.Forbidden, detail);
public sealed class TaskNotFoundException(string detail) : PromptActorsException(ErrorCodes.TaskNotFound, detail);
public sealed class InstanceBusyException(string detail) : PromptActorsException(ErrorCodes.InstanceBusy, detail);
public sealed class ChatNotAllowedException(string detail) : PromptActorsException(ErrorCodes.ChatNotAllowed, detail);
public sealed class PayloadTooLargeException(string detail) : PromptActorsException(ErrorCodes.PayloadTooLarge, detail);
public sealed class UnsupportedMediaTypeException(string detail) : PromptActorsException(ErrorCodes.UnsupportedMediaType, detail);
public sealed class InstanceExpiredException(string detail) : PromptActorsException(ErrorCodes.InstanceExpired, detail);
public sealed class ProviderErrorException(string detail) : PromptActorsException(ErrorCodes.ProviderError, detail);
public sealed class StoreUnavailableException(string detail, Exception? inner = null)
    : PromptActorsException(ErrorCodes.StoreUnavailable, detail, inner);

/// <summary>Variables referenced by the prompt or conversation have no value in any layer.</summary>
public sealed class MissingVariablesException(IReadOnlyList<string> missing, string detail)
    : PromptActorsException(ErrorCodes.MissingVariables, detail)
{
    public IReadOnlyList<string> Missing { get; } = missing;
}
