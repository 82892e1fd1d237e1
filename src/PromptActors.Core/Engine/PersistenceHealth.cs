using Akka.Actor;
using Akka.Persistence;

namespace PromptActors.Engine;

/// <summary>
/// Asks this node's journal and snapshot store what a recovering instance would ask (the highest sequence number of a
/// probe id, its latest snapshot). While either one's circuit breaker is open, or the database is down, the answer is a
/// failure: the node cannot recover or change an instance, so it is not ready, even once the database answers again.
/// </summary>
public static class PersistenceHealth
{
    private const string ProbeId = "readyz-probe";

    /// <summary>Null when both answer within <paramref name="timeout"/>; otherwise why not.</summary>
    public static async Task<string?> ProbeAsync(ActorSystem system, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var persistence = Akka.Persistence.Persistence.Instance.Apply(system);
        try
        {
            // Both at once, so the probe answers within one timeout.
            var journal = persistence.JournalFor(null).Ask<object>(
                replyTo => new ReplayMessages(1, 0, 1, ProbeId, replyTo), timeout, cancellationToken);
            var snapshots = persistence.SnapshotStoreFor(null).Ask<object>(
                new LoadSnapshot(ProbeId, SnapshotSelectionCriteria.Latest, long.MaxValue), timeout, cancellationToken);
            await Task.WhenAll(journal, snapshots);
            if (await journal is ReplayMessagesFailure failed)
                return "the journal is unavailable: " + Reason(failed.Cause);
            if (await snapshots is LoadSnapshotFailed none)
                return "the snapshot store is unavailable: " + Reason(none.Cause);
            return null;
        }
        catch (AskTimeoutException)
        {
            return $"the journal or snapshot store did not answer within {timeout.TotalSeconds:0.#} s";
        }
    }

    private static string Reason(Exception cause) => cause.GetBaseException() is Akka.Pattern.OpenCircuitException
        ? "its circuit breaker is open after repeated database failures"
        : "the database did not answer";
}
