using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Serialization;

namespace PromptActors.Persistence.Tests.Support;

/// <summary>
/// Test-only: lets <c>serialize-messages = on</c> pass plugin messages that never leave the process by design:
/// Akka.Persistence.Sql's <c>WriteFinished</c> (the journal tells itself, carrying a Task) and Akka.Persistence's
/// <c>Desequenced</c> (the journal's reply envelope, which carries the exception of a failed write). Without this the
/// verification drops them: a journal failure would then never reach the persistent actor, which waits forever.
/// The "bytes" are a handle to the original object.
/// </summary>
public sealed class InProcessSerializer(ExtendedActorSystem system) : Serializer(system)
{
    private static readonly ConcurrentDictionary<Guid, object> Objects = new();

    public const string Binding = """
        akka.actor {
          serializers.in-process-test = "PromptActors.Persistence.Tests.Support.InProcessSerializer, PromptActors.Persistence.Tests"
          serialization-bindings {
            "Akka.Persistence.Sql.Journal.Types.WriteFinished, Akka.Persistence.Sql" = in-process-test
            "Akka.Persistence.Journal.AsyncWriteJournal+Desequenced, Akka.Persistence" = in-process-test
          }
        }
        """;

    public override int Identifier => 947_001;

    public override bool IncludeManifest => false;

    public override byte[] ToBinary(object obj)
    {
        var id = Guid.NewGuid();
        Objects[id] = obj;
        return id.ToByteArray();
    }

    public override object FromBinary(byte[] bytes, Type type) =>
        Objects.TryRemove(new Guid(bytes), out var obj) ? obj : throw new InvalidOperationException("unknown in-process object");
}
