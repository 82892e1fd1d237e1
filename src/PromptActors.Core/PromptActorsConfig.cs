using Akka.Cluster.Sharding;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Cluster.Tools.Singleton;
using Akka.Configuration;
using Akka.Streams;

namespace PromptActors;

/// <summary>The engine's own Akka configuration: serializer binding, sharding and persistence defaults.</summary>
public static class PromptActorsConfig
{
    public const string ShardTypeName = "execution-instance";
    public const string ActorSystemName = "prompt-actors";

    /// <summary>Largest message between nodes (Akka.Remote frame and socket buffers): 8 MiB.</summary>
    public const int MaxFrameBytes = 8 * 1024 * 1024;
    public const string InvalidationTopic = "prompt-actors.invalidations";

    /// <summary>Embedded copy of <c>hocon/prompt-actors.hocon</c>.</summary>
    public static string Hocon { get; } = LoadResource("prompt-actors.hocon");

    /// <summary>Embedded copy of <c>hocon/cluster.hocon</c>.</summary>
    public static string ClusterHocon { get; } = LoadResource("cluster.hocon");

    /// <summary>
    /// <c>hocon/cluster.hocon</c> with the values that come from <c>PromptActors:Cluster</c> (split-brain resolver's
    /// stable-after, hand-off timeouts). Put it above <see cref="Default"/>; remoting and seed nodes are set separately.
    /// </summary>
    public static Config ClusterConfig(Engine.PromptActorsOptions.ClusterOptions options)
    {
        var handOff = (long)(options.HandOffTimeout + TimeSpan.FromSeconds(5)).TotalMilliseconds;
        return ConfigurationFactory.ParseString($$"""
            akka.cluster.split-brain-resolver.stable-after = {{(long)options.StableAfter.TotalMilliseconds}}ms
            akka.cluster.failure-detector.heartbeat-interval = {{(long)options.HeartbeatInterval.TotalMilliseconds}}ms
            akka.cluster.failure-detector.acceptable-heartbeat-pause = {{(long)options.AcceptableHeartbeatPause.TotalMilliseconds}}ms
            akka.cluster.down-removal-margin = {{Math.Max(1L, (long)options.DownRemovalMargin.TotalMilliseconds)}}ms
            akka.cluster.sharding.handoff-timeout = {{handOff}}ms
            akka.coordinated-shutdown.phases.cluster-sharding-shutdown-region.timeout = {{handOff}}ms
            """).WithFallback(ConfigurationFactory.ParseString(ClusterHocon));
    }

    /// <summary>
    /// Our settings over the defaults of the Akka modules the engine uses. Those defaults are loaded here, not when each
    /// extension first starts, so a node can deserialize sharding, singleton, pub-sub and stream-ref messages from the
    /// moment it joins.
    /// </summary>
    public static Config Default { get; } = ConfigurationFactory.ParseString(Hocon)
        .WithFallback(ClusterSharding.DefaultConfig())
        .WithFallback(ClusterSingleton.DefaultConfig())
        .WithFallback(DistributedPubSub.DefaultConfig())
        .WithFallback(ActorMaterializer.DefaultConfig());

    private static string LoadResource(string name)
    {
        var assembly = typeof(PromptActorsConfig).Assembly;
        using var stream = assembly.GetManifestResourceStream("PromptActors." + name)
                           ?? throw new InvalidOperationException($"Embedded resource {name} is missing.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
