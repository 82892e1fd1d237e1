using Akka.Actor;
using Akka.Streams;
using PromptActors.Models;
using PromptActors.Runs;

namespace PromptActors.Instances;

/// <summary>Tunables of execution instances (bound from <c>PromptActors</c> options).</summary>
public sealed record InstanceSettings
{
    /// <summary>Largest user input or variable value, in UTF-8 bytes (default 256 KiB).</summary>
    public int MaxInputBytes { get; init; } = 256 * 1024;

    /// <summary>
    /// Longest text of one turn's messages (prompt, conversation and new input, after variables are filled in), in
    /// characters (default 4 Mi). A longer turn is refused with <c>validation_failed</c> before anything is built past
    /// the limit, so a few placeholders of a large value cannot make the node build a huge string.
    /// </summary>
    public int MaxRenderedChars { get; init; } = 4 * 1024 * 1024;

    /// <summary>Most user-provided variables an instance may hold.</summary>
    public int MaxVariables { get; init; } = 256;

    /// <summary>
    /// A snapshot is saved after at least this many events since the last one (0: never), and once the conversation text
    /// journaled since then is at least as large as the last snapshot's, so long conversations do not rewrite themselves.
    /// The state is mostly the conversation text, which the events hold too, so a snapshot saves little at recovery until
    /// a conversation is long: 500 events (250 turns) by default.
    /// </summary>
    public int SnapshotEvery { get; init; } = 500;

    /// <summary>
    /// How long a cleanup waits for the outbox to record the instance's last rows before it is refused with
    /// <c>store_unavailable</c> (the run store is down or slow).
    /// </summary>
    public TimeSpan CleanupSyncWait { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a run read waits for the instance's outbox to write the rows it still owes (read your own writes), after
    /// which the run is returned as the store has it.
    /// </summary>
    public TimeSpan RunReadSyncWait { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long a turn runs before its task row is written as pending (or streaming, once the first token came); a turn
    /// that ends sooner writes only its final row. Zero writes the pending row as soon as the message is journaled.
    /// </summary>
    public TimeSpan ProgressRowDelay { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Timeout of the instance's own asks (prompt cache, scoped variables).</summary>
    public TimeSpan AskTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>An instance that receives nothing this long (and runs nothing) is passivated; it rehydrates on demand.</summary>
    public TimeSpan IdlePassivation { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>First and last delay between retries of an unsynced run-store write.</summary>
    public TimeSpan SyncRetryMin { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan SyncRetryMax { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Events a reply subscriber may fall behind before it is dropped with <c>subscriber_too_slow</c>.</summary>
    public int SubscriberBuffer { get; init; } = 1024;

    /// <summary>Delete the journal up to the tombstone when an instance is reaped.</summary>
    public bool DeleteJournalOnReap { get; init; } = true;

    /// <summary>
    /// When the instance is told to stop (shard hand-off, a node leaving) while a task runs, it lets the task finish for up
    /// to this long before stopping (zero: stop at once; the task is then marked interrupted when the instance recovers).
    /// </summary>
    public TimeSpan HandOffWait { get; init; } = TimeSpan.Zero;

    /// <summary>How long a tool call may take when its registration sets no timeout (then it fails with an error result).</summary>
    public TimeSpan ToolTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Longest tool result given to the model and journaled, in characters; a longer one is cut with a marker.</summary>
    public int MaxToolResultChars { get; init; } = 16 * 1024;

    /// <summary>How long a tool call waits for a person's decision before it is rejected (null: as long as it takes).</summary>
    public TimeSpan? ApprovalTimeout { get; init; }

    public string? JournalPluginId { get; init; }
    public string? SnapshotPluginId { get; init; }
}
