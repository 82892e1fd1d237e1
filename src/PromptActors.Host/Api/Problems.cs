using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.HttpResults;

namespace PromptActors.Host.Api;

/// <summary>Every error leaves as RFC 7807 problem+json with a stable <c>code</c>.</summary>
public static class Problems
{
    public const string Unauthorized = "unauthorized";
    public const string Forbidden = ErrorCodes.Forbidden;
    public const string NotFound = ErrorCodes.NotFound;
    public const string RunNotFound = "run_not_found";
    public const string KeyNotFound = "key_not_found";
    public const string PayloadTooLarge = ErrorCodes.PayloadTooLarge;
    public const string UnsupportedMediaType = ErrorCodes.UnsupportedMediaType;
    public const string MethodNotAllowed = "method_not_allowed";
    public const string InternalError = ErrorCodes.InternalError;

    public static int StatusOf(string code) => code switch
    {
        ErrorCodes.ValidationFailed => 400,
        Unauthorized => 401,
        Forbidden => 403,
        ErrorCodes.PromptNotFound or ErrorCodes.InstanceNotFound or ErrorCodes.TaskNotFound or ErrorCodes.ToolCallNotFound or NotFound
            or ErrorCodes.AttachmentNotFound or RunNotFound or KeyNotFound => 404,
        MethodNotAllowed => 405,
        ErrorCodes.InstanceBusy or ErrorCodes.ChatNotAllowed or ErrorCodes.InstanceExists or ErrorCodes.AlreadyDecided
            or ErrorCodes.ToolCallNotAwaiting => 409,
        ErrorCodes.InstanceExpired => 410,
        PayloadTooLarge => 413,
        UnsupportedMediaType => 415,
        ErrorCodes.MissingVariables => 422,
        ErrorCodes.ProviderError => 502,
        ErrorCodes.StoreUnavailable => 503,
        ErrorCodes.Timeout => 504,
        _ => 500,
    };

    private static string CodeOfStatus(int status) => status switch
    {
        400 => ErrorCodes.ValidationFailed,
        401 => Unauthorized,
        403 => Forbidden,
        404 => NotFound,
        405 => MethodNotAllowed,
        413 => PayloadTooLarge,
        415 => UnsupportedMediaType,
        _ => InternalError,
    };

    public static ProblemHttpResult Of(string code, string detail, IReadOnlyList<string>? missing = null)
    {
        var extensions = new Dictionary<string, object?> { ["code"] = code };
        if (missing is not null)
            extensions["missing"] = missing;
        return TypedResults.Problem(detail, statusCode: StatusOf(code), title: Title(code), extensions: extensions);
    }

    public static ProblemHttpResult From(PromptActorsException e) =>
        Of(e.Code, e.Message, (e as MissingVariablesException)?.Missing);

    private static string Title(string code) => code switch
    {
        ErrorCodes.ValidationFailed => "The request is not valid",
        ErrorCodes.MissingVariables => "Variables without a value",
        ErrorCodes.InstanceBusy => "The instance is executing",
        ErrorCodes.ChatNotAllowed => "Follow-up messages are not allowed",
        ErrorCodes.InstanceExpired => "The instance has expired",
        ErrorCodes.StoreUnavailable => "The store is unavailable",
        ErrorCodes.ProviderError => "The model provider failed",
        _ => code.Replace('_', ' '),
    };

    /// <summary>Problem details for failures the framework produces itself (bad JSON, body too large, 404 routes…).</summary>
    public static void AddPromptActorsProblems(this IServiceCollection services)
    {
        services.AddProblemDetails(o => o.CustomizeProblemDetails = ctx =>
        {
            var status = ctx.ProblemDetails.Status ?? ctx.HttpContext.Response.StatusCode;
            var error = ctx.HttpContext.Features.Get<IExceptionHandlerFeature>()?.Error;
            if (error is BadHttpRequestException bad)
            {
                status = bad.StatusCode;
                ctx.ProblemDetails.Status = status;
                ctx.HttpContext.Response.StatusCode = status;
                ctx.ProblemDetails.Detail = Describe(bad);
            }
            if (!ctx.ProblemDetails.Extensions.ContainsKey("code"))
                ctx.ProblemDetails.Extensions["code"] = CodeOfStatus(status);
        });
    }

    private static string Describe(BadHttpRequestException e) => e.InnerException switch
    {
        JsonException json => "the body is not valid JSON for this request: " + json.Message,
        _ => e.StatusCode == 413 ? "the request body is larger than the limit" : e.Message,
    };
}
