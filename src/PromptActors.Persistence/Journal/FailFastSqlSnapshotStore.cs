using Akka.Actor;
using Akka.Configuration;
using Akka.Pattern;
using Akka.Persistence;
using Akka.Persistence.Sql.Snapshot;

namespace PromptActors.Persistence.Journal;

/// <summary>
/// Akka.Persistence.Sql's snapshot store, with one fix: while its circuit breaker is open (a database outage), Akka 1.5's
/// breaker throws out of the store's message handler instead of failing the call's task, so a recovering instance's
/// <see cref="LoadSnapshot"/> was never answered and the instance waited for its recovery timeout
/// ("Recovery timed out, didn't get snapshot within 10s"): right after an outage some instances answered only ~11 s
/// after the database was back. Here the recovering actor is told at once (<see cref="LoadSnapshotFailed"/>), as for any
/// other failed load. (The journal's replay already fails its task in Akka.Persistence.Sql 1.5.73.)
/// </summary>
public sealed class FailFastSqlSnapshotStore(Config config) : SqlSnapshotStore(config)
{
    protected override bool AroundReceive(Receive receive, object message) =>
        PluginSupport.FailFastLoad(() => base.AroundReceive(receive, message), message, Sender);
}
