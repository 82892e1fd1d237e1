using PromptActors.Instances;
using PromptActors.Runs;

namespace PromptActors.Engine;

/// <summary>Options of the engine, bound from the <c>PromptActors</c> configuration section.</summary>
public sealed class PromptActorsOptions
{
    public const string Section = "PromptActors";

    /// <summary>Shards of the instance region (fixed for the life of a cluster).</summary>
    public int NumberOfShards { get; set; } = InstanceMessageExtractor.DefaultShards;

    /// <summary>How long the embedding API waits for an instance to answer.</summary>
    public TimeSpan AskTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// In a cluster, within <see cref="AskTimeout"/>, a command unanswered for this long is sent again (a message can be lost
    /// to a node that died, or dropped by sharding while its shard is handed off). Repeats are safe: an instance answers a
    /// repeated message with the task the first one created. One node does not re-send.
    /// </summary>
    public TimeSpan AskAttemptTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long scoped variables stay cached on a node.</summary>
    public TimeSpan ScopedVariablesTtl { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How long a node keeps a prompt's latest version cached. A save drops it on every node at once; this bounds how
    /// long a node that missed that notice (it was joining, or unreachable) starts instances on the version before.
    /// Pinned versions never change and stay cached.
    /// </summary>
    public TimeSpan PromptLatestTtl { get; set; } = TimeSpan.FromMinutes(1);

    public ReaperOptions Reaper { get; set; } = new();

    public InstanceOptions Instances { get; set; } = new();

    /// <summary>Images and files in messages (<c>PromptActors:Attachments</c>): sizes and media types accepted.</summary>
    public Attachments.AttachmentOptions Attachments { get; set; } = new();

    /// <summary>Join this node to itself as a one-node cluster (the embedded default; ignored when <see cref="Cluster"/> is enabled).</summary>
    public bool JoinSelf { get; set; } = true;

    /// <summary>Many nodes, one engine (<c>PromptActors:Cluster</c>); off by default (one node that joins itself).</summary>
    public ClusterOptions Cluster { get; set; } = new();

    /// <summary>Finds task rows left pending or streaming by a node that died (<c>PromptActors:TaskSweeper</c>).</summary>
    public TaskSweeperOptions TaskSweeper { get; set; } = new();

    /// <summary>
    /// The tools prompts may offer the model (<c>o.Tools.Add(AIFunctionFactory.Create(...), ToolPolicy.Idempotent)</c>).
    /// Not bound from configuration: tools are code. Register the same tools on every node of a cluster.
    /// </summary>
    public Tools.ToolCollection Tools { get; } = new();

    public sealed class ReaperOptions
    {
        public TimeSpan CompletedTtl { get; set; } = TimeSpan.FromMinutes(30);
        public int MaxCompletedPerNode { get; set; } = 50;
        public TimeSpan SweepInterval { get; set; } = TimeSpan.FromMinutes(1);
    }

    public sealed class ClusterOptions
    {
        /// <summary>Join the seed nodes at <see cref="Hostname"/>:<see cref="Port"/> instead of forming a one-node cluster.</summary>
        public bool Enabled { get; set; }

        /// <summary>The address Akka.Remote binds to (and advertises unless <see cref="PublicHostname"/> is set).</summary>
        public string Hostname { get; set; } = "127.0.0.1";

        /// <summary>The address other nodes use to reach this one (containers: the pod IP or DNS name); defaults to <see cref="Hostname"/>.</summary>
        public string? PublicHostname { get; set; }

        /// <summary>Akka.Remote port (0: any free port; seed nodes need a fixed one).</summary>
        public int Port { get; set; } = 4053;

        /// <summary>
        /// <c>akka.tcp://prompt-actors@host:port</c> addresses; the same list on every node, at least two of them so a
        /// restarted first seed rejoins the running cluster instead of forming a new one. An entry may hold several addresses
        /// separated by commas.
        /// </summary>
        public List<string> SeedNodes { get; set; } = new();

        /// <summary>Cluster roles of this node (informational; every node hosts instances).</summary>
        public List<string> Roles { get; set; } = new();

        /// <summary>
        /// How long membership must be stable before the split-brain resolver (keep-majority) downs unreachable nodes. Short
        /// (1 s) so a crashed node's instances are served again within about 5 s; longer rides out longer pauses of a node
        /// (GC, a stalled VM) without downing it, at the price of a longer outage of a really dead node's instances.
        /// </summary>
        public TimeSpan StableAfter { get; set; } = TimeSpan.FromSeconds(1);

        /// <summary>How often nodes send each other heartbeats (Akka's default: 1 s).</summary>
        public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromMilliseconds(500);

        /// <summary>
        /// How long a node may miss heartbeats before the failure detector calls it unreachable (Akka's default: 3 s). A
        /// node that pauses longer is marked unreachable, and downed if it stays so for <see cref="StableAfter"/>.
        /// </summary>
        public TimeSpan AcceptableHeartbeatPause { get; set; } = TimeSpan.FromMilliseconds(1500);

        /// <summary>
        /// How long the shard coordinator waits after a downed node is removed before its shards move (Akka: the
        /// split-brain resolver's stable-after). The journal refuses a second writer's events, so a downed node that is
        /// still running cannot fork an instance's history; it may still stream a reply in that window.
        /// </summary>
        public TimeSpan DownRemovalMargin { get; set; } = TimeSpan.FromMilliseconds(200);

        /// <summary>How long a leaving node lets a running task finish before its instance is handed off (then it is interrupted).</summary>
        public TimeSpan HandOffTimeout { get; set; } = TimeSpan.FromSeconds(15);

        /// <summary>The host's shutdown timeout (<c>HostOptions.ShutdownTimeout</c>): covers hand-off, leaving and the HTTP drain.</summary>
        public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(45);

        /// <summary>The seed node addresses, with comma-separated entries split and blanks dropped.</summary>
        public IReadOnlyList<string> SeedNodeList => SeedNodes
            .SelectMany(s => (s ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .ToArray();

        /// <summary>Every problem with these settings (when enabled), each naming its key.</summary>
        public IReadOnlyList<string> Validate(string actorSystemName = PromptActorsConfig.ActorSystemName)
        {
            const string key = Section + ":Cluster";
            var errors = new List<string>();
            if (string.IsNullOrWhiteSpace(Hostname))
                errors.Add($"{key}:Hostname is required when {key}:Enabled is true (the address Akka.Remote binds to, e.g. 0.0.0.0 or 10.0.0.5)");
            if (Port is < 0 or > 65535)
                errors.Add($"{key}:Port must be between 0 and 65535 (was {Port})");
            var seeds = SeedNodeList;
            if (seeds.Count == 0)
                errors.Add($"{key}:SeedNodes must list at least one address like akka.tcp://{actorSystemName}@10.0.0.5:4053 " +
                           $"(environment: PromptActors__Cluster__SeedNodes__0=...)");
            for (var i = 0; i < seeds.Count; i++)
            {
                if (!Akka.Actor.Address.TryParse(seeds[i], out var address) || address.Host is null || address.Port is null or 0)
                    errors.Add($"{key}:SeedNodes entry '{seeds[i]}' is not an address like akka.tcp://{actorSystemName}@host:port");
                else if (address.Protocol != "akka.tcp")
                    errors.Add($"{key}:SeedNodes entry '{seeds[i]}' must use the akka.tcp protocol");
                else if (address.System != actorSystemName)
                    errors.Add($"{key}:SeedNodes entry '{seeds[i]}' names actor system '{address.System}', but this node's is '{actorSystemName}'");
            }
            if (Roles.Any(string.IsNullOrWhiteSpace))
                errors.Add($"{key}:Roles must not hold empty names");
            if (StableAfter < TimeSpan.FromSeconds(1))
                errors.Add($"{key}:StableAfter must be at least 1 second (was {StableAfter})");
            if (HeartbeatInterval < TimeSpan.FromMilliseconds(10))
                errors.Add($"{key}:HeartbeatInterval must be at least 10 ms (was {HeartbeatInterval})");
            if (AcceptableHeartbeatPause < HeartbeatInterval * 2)
                errors.Add($"{key}:AcceptableHeartbeatPause ({AcceptableHeartbeatPause}) must be at least twice HeartbeatInterval ({HeartbeatInterval})");
            if (DownRemovalMargin < TimeSpan.Zero)
                errors.Add($"{key}:DownRemovalMargin must not be negative (was {DownRemovalMargin})");
            if (HandOffTimeout < TimeSpan.Zero)
                errors.Add($"{key}:HandOffTimeout must not be negative (was {HandOffTimeout})");
            if (ShutdownTimeout < HandOffTimeout + TimeSpan.FromSeconds(10))
                errors.Add($"{key}:ShutdownTimeout ({ShutdownTimeout}) must be at least HandOffTimeout ({HandOffTimeout}) plus 10 seconds, " +
                           "so the hand-off and the leave finish before the host gives up");
            return errors;
        }
    }

    public sealed class TaskSweeperOptions
    {
        /// <summary>Run the sweeper (a cluster singleton) at all.</summary>
        public bool Enabled { get; set; } = true;

        /// <summary>How often it looks for stale task rows.</summary>
        public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(30);

        /// <summary>A pending or streaming row not updated for this long makes the sweeper wake its instance.</summary>
        public TimeSpan StaleAfter { get; set; } = TimeSpan.FromMinutes(1);

        /// <summary>Only tasks created within this window are looked at (an index range, not a table scan).</summary>
        public TimeSpan Lookback { get; set; } = TimeSpan.FromDays(1);

        /// <summary>Most instances woken per sweep.</summary>
        public int BatchSize { get; set; } = 200;
    }

    public sealed class InstanceOptions
    {
        public int MaxInputBytes { get; set; } = 256 * 1024;
        public int MaxVariables { get; set; } = 256;
        public int MaxRenderedChars { get; set; } = 4 * 1024 * 1024;
        public int SnapshotEvery { get; set; } = 500;
        public TimeSpan IdlePassivation { get; set; } = TimeSpan.FromMinutes(30);
        public bool DeleteJournalOnReap { get; set; } = true;
        public int SubscriberBuffer { get; set; } = 1024;
        public TimeSpan SyncRetryMin { get; set; } = TimeSpan.FromSeconds(1);
        public TimeSpan SyncRetryMax { get; set; } = TimeSpan.FromMinutes(1);
        public TimeSpan CleanupSyncWait { get; set; } = TimeSpan.FromSeconds(10);
        public TimeSpan RunReadSyncWait { get; set; } = TimeSpan.FromSeconds(2);

        /// <summary>How long a turn runs before its task row is written as pending or streaming (zero: at once).</summary>
        public TimeSpan ProgressRowDelay { get; set; } = TimeSpan.FromMilliseconds(50);
        public string? JournalPluginId { get; set; }
        public string? SnapshotPluginId { get; set; }

        /// <summary>How long a tool call may take when its registration sets no timeout.</summary>
        public TimeSpan ToolTimeout { get; set; } = TimeSpan.FromSeconds(60);

        /// <summary>Longest tool result given to the model, in characters (longer ones are cut with a marker).</summary>
        public int MaxToolResultChars { get; set; } = 16 * 1024;

        /// <summary>How long a tool call waits for approval before it is rejected (unset: no limit).</summary>
        public TimeSpan? ApprovalTimeout { get; set; }
    }

    /// <summary>Every problem with these options, each naming its configuration key.</summary>
    public IReadOnlyList<string> Validate() => Validate(PromptActorsConfig.ActorSystemName);

    /// <summary>Every problem with these options for an actor system named <paramref name="actorSystemName"/>.</summary>
    public IReadOnlyList<string> Validate(string actorSystemName)
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
        // An instance remembers request ids for 5 minutes; a copy may arrive up to AskTimeout + 30 s after its request.
        if (AskTimeout > TimeSpan.FromMinutes(4))
            errors.Add($"{Section}:{nameof(AskTimeout)} must be at most 4 minutes (was {AskTimeout})");
        Positive(AskAttemptTimeout, nameof(AskAttemptTimeout));
        Positive(ScopedVariablesTtl, nameof(ScopedVariablesTtl));
        Positive(PromptLatestTtl, nameof(PromptLatestTtl));
        Positive(Reaper.CompletedTtl, "Reaper:CompletedTtl");
        Positive(Reaper.SweepInterval, "Reaper:SweepInterval");
        if (Reaper.MaxCompletedPerNode < 0)
            errors.Add($"{Section}:Reaper:MaxCompletedPerNode must be 0 or more (was {Reaper.MaxCompletedPerNode})");
        errors.AddRange(Attachments.Validate(Section + ":Attachments"));
        if (Instances.MaxInputBytes < 1)
            errors.Add($"{Section}:Instances:MaxInputBytes must be positive (was {Instances.MaxInputBytes})");
        if (Instances.MaxRenderedChars < 1)
            errors.Add($"{Section}:Instances:MaxRenderedChars must be positive (was {Instances.MaxRenderedChars})");
        if (Instances.MaxVariables < 1)
            errors.Add($"{Section}:Instances:MaxVariables must be positive (was {Instances.MaxVariables})");
        if (Instances.SnapshotEvery < 0)
            errors.Add($"{Section}:Instances:SnapshotEvery must be 0 (off) or more (was {Instances.SnapshotEvery})");
        Positive(Instances.IdlePassivation, "Instances:IdlePassivation");
        Positive(Instances.ToolTimeout, "Instances:ToolTimeout");
        if (Instances.ApprovalTimeout is { } approval)
            Positive(approval, "Instances:ApprovalTimeout");
        if (Instances.MaxToolResultChars < 1)
            errors.Add($"{Section}:Instances:MaxToolResultChars must be positive (was {Instances.MaxToolResultChars})");
        Positive(Instances.SyncRetryMin, "Instances:SyncRetryMin");
        Positive(Instances.CleanupSyncWait, "Instances:CleanupSyncWait");
        Positive(Instances.RunReadSyncWait, "Instances:RunReadSyncWait");
        if (Instances.ProgressRowDelay < TimeSpan.Zero || Instances.ProgressRowDelay > TimeSpan.FromMinutes(1))
            errors.Add($"{Section}:Instances:ProgressRowDelay must be between 00:00:00 and 00:01:00 (was {Instances.ProgressRowDelay})");
        if (Instances.SubscriberBuffer is < 1 or > 1_000_000)
            errors.Add($"{Section}:Instances:SubscriberBuffer must be between 1 and 1000000 (was {Instances.SubscriberBuffer})");
        if (Instances.SyncRetryMax < Instances.SyncRetryMin)
            errors.Add($"{Section}:Instances:SyncRetryMax must not be shorter than SyncRetryMin");
        if (Cluster.Enabled)
            errors.AddRange(Cluster.Validate(actorSystemName));
        if (TaskSweeper.Enabled)
        {
            Positive(TaskSweeper.Interval, "TaskSweeper:Interval");
            Positive(TaskSweeper.StaleAfter, "TaskSweeper:StaleAfter");
            Positive(TaskSweeper.Lookback, "TaskSweeper:Lookback");
            if (TaskSweeper.BatchSize is < 1 or > 100_000)
                errors.Add($"{Section}:TaskSweeper:BatchSize must be between 1 and 100000 (was {TaskSweeper.BatchSize})");
        }
        return errors;
    }

    internal InstanceSettings ToInstanceSettings() => new()
    {
        HandOffWait = Cluster.Enabled ? Cluster.HandOffTimeout : TimeSpan.Zero,
        MaxInputBytes = Instances.MaxInputBytes,
        MaxVariables = Instances.MaxVariables,
        MaxRenderedChars = Instances.MaxRenderedChars,
        SnapshotEvery = Instances.SnapshotEvery,
        IdlePassivation = Instances.IdlePassivation,
        DeleteJournalOnReap = Instances.DeleteJournalOnReap,
        SyncRetryMin = Instances.SyncRetryMin,
        SubscriberBuffer = Instances.SubscriberBuffer,
        SyncRetryMax = Instances.SyncRetryMax,
        CleanupSyncWait = Instances.CleanupSyncWait,
        RunReadSyncWait = Instances.RunReadSyncWait,
        ProgressRowDelay = Instances.ProgressRowDelay,
        JournalPluginId = Instances.JournalPluginId,
        SnapshotPluginId = Instances.SnapshotPluginId,
        ToolTimeout = Instances.ToolTimeout,
        MaxToolResultChars = Instances.MaxToolResultChars,
        ApprovalTimeout = Instances.ApprovalTimeout,
        AskTimeout = AskTimeout < TimeSpan.FromSeconds(10) ? AskTimeout : TimeSpan.FromSeconds(10),
    };
}
