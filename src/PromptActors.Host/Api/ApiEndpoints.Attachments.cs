using Microsoft.AspNetCore.Http.Features;
using PromptActors.Engine;

namespace PromptActors.Host.Api;

/// <summary>The bytes of image and file parts, to their owner only; and the larger body a message with parts may have.</summary>
public static partial class ApiEndpoints
{
    /// <summary>
    /// GET /v1/attachments/{sha256}: the part's bytes with its media type, to a key of the scope it was sent in. Another
    /// scope's hash answers exactly as one nobody sent (404 attachment_not_found).
    /// </summary>
    private static async Task<IResult> GetAttachment(string sha256, HttpContext http, IPromptExecutionEngine engine, CancellationToken ct)
    {
        var attachment = await For(http, engine).GetAttachmentAsync(sha256, ct);
        if (attachment is null)
            return Problems.Of(ErrorCodes.AttachmentNotFound, "no attachment with this hash");
        http.Response.Headers.CacheControl = "private, max-age=31536000, immutable"; // content-addressed: never changes
        http.Response.Headers["X-Content-Type-Options"] = "nosniff";
        return TypedResults.File(attachment.Data, attachment.MediaType);
    }

    /// <summary>
    /// Lets a message (POST /v1/instances/{id}/messages) be as large as its parts may be (their base64 and the text
    /// around them); every other request keeps <c>PromptActors:Http:MaxRequestBodyBytes</c>.
    /// </summary>
    public static IApplicationBuilder UseMessageBodyLimit(this IApplicationBuilder app, long maxMessageBodyBytes) =>
        app.Use(async (http, next) =>
        {
            if (HttpMethods.IsPost(http.Request.Method) && http.Request.Path.StartsWithSegments("/v1/instances")
                && http.Request.Path.Value!.EndsWith("/messages", StringComparison.Ordinal)
                && http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit
                && limit.MaxRequestBodySize < maxMessageBodyBytes)
                limit.MaxRequestBodySize = maxMessageBodyBytes;
            await next(http);
        });
}
