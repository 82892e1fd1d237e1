using System.Collections.Frozen;

namespace PromptActors.Host.Api;

/// <summary>
/// The web console at <c>/console</c>: three static files embedded in the host assembly (no CDN, works offline). The page
/// carries no secret; it asks for an API key and calls the <c>/v1</c> API with it like any client.
/// </summary>
public static class ConsoleEndpoints
{
    private static readonly FrozenDictionary<string, (byte[] Bytes, string ContentType)> Files = Load();

    private static FrozenDictionary<string, (byte[] Bytes, string ContentType)> Load()
    {
        var assembly = typeof(ConsoleEndpoints).Assembly;
        var files = new Dictionary<string, (byte[], string)>(StringComparer.Ordinal);
        foreach (var (name, type) in new[] { ("index.html", "text/html; charset=utf-8"), ("console.js", "text/javascript; charset=utf-8"),
                     ("console.css", "text/css; charset=utf-8") })
        {
            using var stream = assembly.GetManifestResourceStream("PromptActors.Host.Console." + name)
                ?? throw new InvalidOperationException($"the console file {name} is not embedded in the host");
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            files[name] = (copy.ToArray(), type);
        }
        return files.ToFrozenDictionary(StringComparer.Ordinal);
    }

    public static void MapConsole(this WebApplication app)
    {
        app.MapGet("/console", () => Serve("index.html")).ExcludeFromDescription();
        app.MapGet("/console/{file}", (string file) => Serve(file)).ExcludeFromDescription();
    }

    private static IResult Serve(string file) => Files.TryGetValue(file, out var f)
        ? new ConsoleFile(f.Bytes, f.ContentType)
        : Results.NotFound();

    /// <summary>A console file with headers that keep the page to its own origin's scripts and styles.</summary>
    private sealed class ConsoleFile(byte[] bytes, string contentType) : IResult
    {
        public async Task ExecuteAsync(HttpContext http)
        {
            var headers = http.Response.Headers;
            headers.ContentSecurityPolicy = "default-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'";
            headers.XContentTypeOptions = "nosniff";
            headers.CacheControl = "no-cache";
            http.Response.ContentType = contentType;
            http.Response.ContentLength = bytes.Length;
            await http.Response.Body.WriteAsync(bytes, http.RequestAborted);
        }
    }
}
