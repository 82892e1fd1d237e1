using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.Json;
using PromptActors.Engine;
using PromptActors.Host.Api;
using PromptActors.Host.Auth;
using PromptActors.Models;
using PromptActors.Persistence;
using PromptActors.Persistence.Hosting;

namespace PromptActors.Host;

/// <summary>Builds the web host: engine on SQL storage, models, API keys, the HTTP API.</summary>
public static class HostApp
{
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? customize = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        customize?.Invoke(builder);
        var configuration = builder.Configuration;

        var auth = new AuthOptions();
        configuration.GetSection(AuthOptions.Section).Bind(auth);
        var authErrors = auth.Validate();
        if (authErrors.Count > 0)
            throw new InvalidOperationException("Invalid configuration: " + string.Join("; ", authErrors));
        var (keys, newDevKey) = ApiKeyStore.Load(auth);
        if (newDevKey is not null)
            ShowDevKey(newDevKey, auth);
        builder.Services.AddSingleton(auth);
        builder.Services.AddSingleton(keys);
        builder.Services.AddSingleton(sp => new ApiKeyResolver(keys, sp.GetRequiredService<PromptActors.Access.IApiKeyStore>(),
            sp.GetService<TimeProvider>() ?? TimeProvider.System, sp.GetRequiredService<ILogger<ApiKeyResolver>>()));
        builder.Services.AddSingleton(sp => StreamTokens.Create(auth, sp.GetService<TimeProvider>() ?? TimeProvider.System));
        // ASP.NET's request-line log shows the query string, where a stream token travels.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.Warning);

        var origins = configuration.GetSection(CorsSetup.Section).Get<string[]>() ?? [];
        var corsErrors = CorsSetup.Validate(origins);
        if (corsErrors.Count > 0)
            throw new InvalidOperationException("Invalid configuration: " + string.Join("; ", corsErrors));
        if (origins.Length > 0)
            builder.Services.AddCors(o => o.AddPolicy(CorsSetup.Policy, CorsSetup.Configure(origins)));

        var maxBody = configuration.GetValue<long?>("PromptActors:Http:MaxRequestBodyBytes") ?? 1024 * 1024;
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = maxBody);
        builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        builder.Services.Configure<JsonOptions>(o =>
        {
            o.SerializerOptions.Converters.Add(new JsonStringEnumConverter(System.Text.Json.JsonNamingPolicy.CamelCase));
            o.SerializerOptions.DefaultIgnoreCondition = JsonIgnoreCondition.Never;
        });
        builder.Services.AddPromptActorsProblems();
        builder.Services.AddOpenApi();
        builder.Services.AddSingleton<HostMetrics>();
        builder.Services.AddPromptActorsTelemetry(configuration);
        builder.Services.AddPromptActorsModels(configuration);

        builder.Services.AddPromptActorsWithStorage(configuration, o =>
        {
            configuration.GetSection(PromptActorsOptions.Section).Bind(o);
            if (configuration.GetValue("PromptActors:Examples:Tools", true))
                ExampleTools.Register(o.Tools, configuration);
        });
        var cluster = new PromptActorsOptions.ClusterOptions();
        configuration.GetSection(PromptActorsOptions.Section + ":Cluster").Bind(cluster);
        if (cluster.Enabled)
        {
            // Stopping (SIGTERM) drains HTTP, hands the shards off (running tasks finish first) and leaves the cluster.
            builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = cluster.ShutdownTimeout);
        }
        builder.Services.AddHostedService<ExampleLoader>();

        var app = builder.Build();
        app.UseExceptionHandler(new ExceptionHandlerOptions
        {
            StatusCodeSelector = e => e is BadHttpRequestException bad ? bad.StatusCode : 500,
        });
        app.UseStatusCodePages();
        var metrics = app.Services.GetRequiredService<HostMetrics>();
        var node = new Lazy<string>(() => app.Services.GetRequiredService<Akka.Actor.ActorSystem>() is Akka.Actor.ExtendedActorSystem system
            ? system.Provider.DefaultAddress.ToString() : "");
        app.Use(async (http, next) =>
        {
            // Which node served the request (the instance view's "node" says which one hosts the instance).
            http.Response.Headers["X-PromptActors-Node"] = node.Value;
            await next(http);
            metrics.Request(http.Response.StatusCode);
        });
        if (origins.Length > 0)
            app.UseCors(CorsSetup.Policy); // before the key check: a preflight carries no key
        app.UseMiddleware<ApiKeyMiddleware>();
        // A message's parts arrive base64-encoded (4 bytes for 3) beside up to MaxInputBytes of text.
        var maxParts = configuration.GetValue<long?>(PromptActorsOptions.Section + ":Attachments:MaxMessageBytes")
                       ?? new PromptActors.Attachments.AttachmentOptions().MaxMessageBytes;
        var maxText = configuration.GetValue<long?>(PromptActorsOptions.Section + ":Instances:MaxInputBytes") ?? 256 * 1024;
        app.UseMessageBodyLimit(Math.Max(maxBody, maxParts / 3 * 4 + 4 * maxText + 64 * 1024));
        app.MapOpenApi();
        app.MapPromptActorsApi();
        app.MapConsole();

        app.Lifetime.ApplicationStarted.Register(() => Describe(app, auth, keys));
        return app;
    }

    private static void ShowDevKey(string key, AuthOptions auth) => Console.WriteLine($"""

        A development API key was generated for user 'local' (org 'local', project 'local').
        It is shown only now; only its hash is kept in {Path.GetFullPath(auth.DevKeyFile)}:

            {key}

        Use it as:  curl -H "Authorization: Bearer {key}" ...

        """);

    /// <summary>Says how this node is configured (never a secret, except a development key generated just now, once).</summary>
    private static void Describe(WebApplication app, AuthOptions auth, ApiKeyStore keys)
    {
        var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("PromptActors.Host");
        var storage = app.Services.GetRequiredService<IConfiguration>().GetSection(StorageOptions.Section).Get<StorageOptions>() ?? new StorageOptions();
        var models = app.Services.GetRequiredService<IModelRegistry>();
        log.LogInformation("PromptActors listening on {Urls}", string.Join(", ", app.Urls));
        log.LogInformation("Storage: {Provider}{Where}", storage.Provider,
            storage.Provider.Equals(StorageOptions.Sqlite, StringComparison.OrdinalIgnoreCase) && string.IsNullOrEmpty(storage.ConnectionString)
                ? " (" + StorageOptions.DefaultSqliteConnectionString + ")" : "");
        log.LogInformation("Models: {Models} (default {Default})", string.Join(", ", models.ModelIds), models.DefaultModelId);
        var engine = app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<PromptActorsOptions>>().Value;
        if (engine.Cluster.Enabled)
            log.LogInformation("Cluster node {Address}; seed nodes {Seeds}", app.Services.GetRequiredService<Akka.Actor.ActorSystem>()
                is Akka.Actor.ExtendedActorSystem system ? system.Provider.DefaultAddress.ToString() : "?", string.Join(", ", engine.Cluster.SeedNodeList));
        if (auth.Enabled && engine.Cluster.Enabled && string.IsNullOrEmpty(auth.StreamTokenSecretEnv))
            log.LogWarning("PromptActors:Auth:StreamTokenSecretEnv is not set: a stream token works only on the node that issued it");
        if (!auth.Enabled)
            log.LogWarning("Authentication is OFF (PromptActors:Auth:Enabled=false): every caller may act in every scope");
        else if (auth.ApiKeys.Count > 0)
            log.LogInformation("Authentication: {Count} API key(s) configured", keys.Count);
        else
            log.LogInformation("Authentication: development key for user 'local' (its hash is in {File}; delete it to get a new key)", auth.DevKeyFile);
    }
}
