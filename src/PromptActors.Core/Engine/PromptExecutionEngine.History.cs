using Akka.Actor;
using PromptActors.Instances;
using PromptActors.Prompts;

namespace PromptActors.Engine;

/// <summary>The instance history (the original design's time travel) and forks from it.</summary>
public sealed partial class PromptExecutionEngine
{
    public async Task<InstanceHistory> GetHistoryAsync(string instanceId, long? at = null, CancellationToken cancellationToken = default)
    {
        var history = await ReadJournalAsync<InstanceHistory>(instanceId, at, ReadHistory.Instance, cancellationToken);
        return history with { InstanceId = instanceId };
    }

    public async Task<InstanceView> ForkInstanceAsync(string instanceId, long at, string? newInstanceId = null,
        CancellationToken cancellationToken = default)
    {
        if (newInstanceId is not null && !PromptValidation.IsValidId(newInstanceId))
            throw new ValidationFailedException("instanceId must be 1-128 letters, digits, '_', '-' or '.'");
        var basis = await ReadJournalAsync<ForkBasis>(instanceId, at, ReadForkBasis.Instance, cancellationToken);
        if (basis.Start is not { } start)
            throw new StoreUnavailableException("the instance's journal could not be read; retry");
        var fork = new ForkInstance(Entity(newInstanceId ?? Guid.NewGuid().ToString("N")), start.Scope, start,
            basis.UserValues, basis.Conversation, instanceId, basis.SequenceNr, _caller, _keyId);
        return Outward(await AskAsync<InstanceView>(fork, cancellationToken));
    }

    /// <summary>
    /// Reads the caller's instance's journal up to <paramref name="at"/> with a <see cref="HistoryReader"/>. The instance
    /// answers first, so an unknown, foreign or reaped id is refused exactly as for the view.
    /// </summary>
    private async Task<T> ReadJournalAsync<T>(string instanceId, long? at, object question, CancellationToken cancellationToken)
    {
        if (at is < 1)
            throw new ValidationFailedException("at must be a sequence number of 1 or more");
        var (_, entity) = await AskOwnAsync<InstanceView>(instanceId, id => new GetInstance(id, _caller), cancellationToken);
        var reader = _system.ActorOf(HistoryReader.Props(entity, _settings, at));
        object reply;
        try
        {
            reply = await reader.Ask<object>(question, _timeout, cancellationToken);
        }
        catch (AskTimeoutException)
        {
            reader.Tell(PoisonPill.Instance);
            throw new StoreUnavailableException("the instance's journal could not be read in time; retry");
        }
        return reply is T answer ? answer : throw new StoreUnavailableException("the instance's journal could not be read; retry");
    }
}
