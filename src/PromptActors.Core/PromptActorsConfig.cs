using Akka.Configuration;

namespace PromptActors;

/// <summary>The engine's own Akka configuration: serializer binding, sharding and persistence defaults.</summary>
public static class PromptActorsConfig
{
    public const string ShardTypeName = "execution-instance";
    public const string InvalidationTopic = "prompt-actors.invalidations";

    /// <summary>Embedded copy of <c>hocon/prompt-actors.hocon</c>.</summary>
    public static string Hocon { get; } = LoadResource("prompt-actors.hocon");

    public static Config Default { get; } = ConfigurationFactory.ParseString(Hocon);

    private static string LoadResource(string name)
    {
        var assembly = typeof(PromptActorsConfig).Assembly;
        using var stream = assembly.GetManifestResourceStream("PromptActors." + name)
                           ?? throw new InvalidOperationException($"Embedded resource {name} is missing.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
