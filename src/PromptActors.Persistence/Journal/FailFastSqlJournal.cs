using Akka.Actor;
using Akka.Configuration;
using Akka.Pattern;
using Akka.Persistence;
using Akka.Persistence.Sql.Journal;
using Akka.Persistence.Sql.Snapshot;

namespace PromptActors.Persistence.Journal;

/// <summary>
/// Akka.Persistence.Sql's journal, with one fix: while its circuit breaker is open (a database outage), Akka 1.5's breaker
/// throws out of the journal's message handler instead of failing the call's task, so a recovery's
/// <see cref="ReplayMessages"/> was never answered, the journal actor restarted with a logged stack trace, and the
/// instance waited for its recovery timeout (RecoveryTimedOutException, 30 s) before its caller heard anything. Here the
/// recovering actor is told at once (<see cref="ReplayMessagesFailure"/>), as for any other failed read.
/// </summary>
public sealed class FailFastSqlJournal(Config config) : SqlWriteJournal(config)
{
    protected override bool AroundReceive(Receive receive, object message)
    {
        try
        {
            return base.AroundReceive(receive, message);
        }
        catch (OpenCircuitException open) when (message is ReplayMessages replay)
        {
            replay.PersistentActor.Tell(new ReplayMessagesFailure(open));
            return true;
        }
    }
}

/// <summary>Akka.Persistence.Sql's snapshot store, answering a load with <see cref="LoadSnapshotFailed"/> while its breaker is open.</summary>
public sealed class FailFastSqlSnapshotStore(Config config) : SqlSnapshotStore(config)
{
    protected override bool AroundReceive(Receive receive, object message)
    {
        try
        {
            return base.AroundReceive(receive, message);
        }
        catch (OpenCircuitException open) when (message is LoadSnapshot)
        {
            Sender.Tell(new LoadSnapshotFailed(open));
            return true;
        }
    }
}
