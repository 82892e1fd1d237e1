using PromptActors.Instances;

namespace PromptActors.Engine;

/// <summary>Options of the engine, bound from the <c>PromptActors</c> configuration section.</summary>
public sealed class PromptActorsOptions
{
    public const string Section = "PromptActors";

    /// <summary>Shards of the instance region (fixed for the life of a cluster).</summary>
    public int NumberOfShards { get; set; } = InstanceMessageExtractor.DefaultShards;

    /// <summary>How long the embedding API waits for an instance to answer.</summary>
    public TimeSpan AskTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long scoped variables stay cached on a node.</summary>
    public TimeSpan ScopedVariablesTtl { get; set; } = TimeSpan.FromMinutes(5);

    public ReaperOptions Reaper { get; set; } = new();

    public InstanceOptions Instances { get; set; } = new();

    /// <summary>Join this node to itself as a one-node cluster (the embedded default).</summary>
    public bool JoinSelf { get; set; } = true;

    public sealed class ReaperOptions
    {
        public TimeSpan CompletedTtl { get; set; } = TimeSpan.FromMinutes(30);
        public int MaxCompletedPerNode { get; set; } = 50;
        public TimeSpan SweepInterval { get; set; } = TimeSpan.FromMinutes(1);
    }

    public sealed class InstanceOptions
    {
        public int MaxInputBytes { get; set; } = 256 * 1024;
        public int MaxVariables { get; set; } = 256;
        public int SnapshotEvery { get; set; } = 100;
        public TimeSpan IdlePassivation { get; set; } = TimeSpan.FromMinutes(30);
        public bool DeleteJournalOnReap { get; set; } = true;
        public int SubscriberBuffer { get; set; } = 1024;
        public TimeSpan SyncRetryMin { get; set; } = TimeSpan.FromSeconds(1);
        public TimeSpan SyncRetryMax { get; set; } = TimeSpan.FromMinutes(1);
        public string? JournalPluginId { get; set; }
        public string? SnapshotPluginId { get; set; }
    }

    /// <summary>Every problem with these options, each naming its configuration key.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        void Positive(TimeSpan value, string key)
        {
            if (value <= TimeSpan.Zero)
                errors.Add($"{Section}:{key} must be a positive duration (was {value})");
        }
        if (NumberOfShards is < 1 or > 10_000)
            errors.Add($"{Section}:NumberOfShards must be between 1 and 10000 (was {NumberOfShards})");
        Positive(AskTimeout, nameof(AskTimeout));
        Positive(ScopedVariablesTtl, nameof(ScopedVariablesTtl));
        Positive(Reaper.CompletedTtl, "Reaper:CompletedTtl");
        Positive(Reaper.SweepInterval, "Reaper:SweepInterval");
        if (Reaper.MaxCompletedPerNode < 0)
            errors.Add($"{Section}:Reaper:MaxCompletedPerNode must be 0 or more (was {Reaper.MaxCompletedPerNode})");
        if (Instances.MaxInputBytes < 1)
            errors.Add($"{Section}:Instances:MaxInputBytes must be positive (was {Instances.MaxInputBytes})");
        if (Instances.MaxVariables < 1)
            errors.Add($"{Section}:Instances:MaxVariables must be positive (was {Instances.MaxVariables})");
        if (Instances.SnapshotEvery < 0)
            errors.Add($"{Section}:Instances:SnapshotEvery must be 0 (off) or more (was {Instances.SnapshotEvery})");
        Positive(Instances.IdlePassivation, "Instances:IdlePassivation");
        Positive(Instances.SyncRetryMin, "Instances:SyncRetryMin");
        if (Instances.SubscriberBuffer is < 1 or > 1_000_000)
            errors.Add($"{Section}:Instances:SubscriberBuffer must be between 1 and 1000000 (was {Instances.SubscriberBuffer})");
        if (Instances.SyncRetryMax < Instances.SyncRetryMin)
            errors.Add($"{Section}:Instances:SyncRetryMax must not be shorter than SyncRetryMin");
        return errors;
    }

    internal InstanceSettings ToInstanceSettings() => new()
    {
        MaxInputBytes = Instances.MaxInputBytes,
        MaxVariables = Instances.MaxVariables,
        SnapshotEvery = Instances.SnapshotEvery,
        IdlePassivation = Instances.IdlePassivation,
        DeleteJournalOnReap = Instances.DeleteJournalOnReap,
        SyncRetryMin = Instances.SyncRetryMin,
        SubscriberBuffer = Instances.SubscriberBuffer,
        SyncRetryMax = Instances.SyncRetryMax,
        JournalPluginId = Instances.JournalPluginId,
        SnapshotPluginId = Instances.SnapshotPluginId,
        AskTimeout = AskTimeout < TimeSpan.FromSeconds(10) ? AskTimeout : TimeSpan.FromSeconds(10),
    };
}
