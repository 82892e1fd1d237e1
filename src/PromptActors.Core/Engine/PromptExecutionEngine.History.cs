using Akka.Actor;
using PromptActors.Instances;
using PromptActors.Prompts;

namespace PromptActors.Engine;

/// <summary>The instance history (the original design's time travel) and forks from it.</summary>
public sealed partial class PromptExecutionEngine
{
    public async Task<InstanceHistory> GetHistoryAsync(string instanceId, long? at = null, CancellationToken cancellationToken = default)
    {
        if (at is < 1)
            throw new ValidationFailedException("at must be a sequence number of 1 or more");
        // The instance answers first: an unknown, foreign or reaped id is refused exactly as for the view.
        var (_, entity) = await AskOwnAsync<InstanceView>(instanceId, id => new GetInstance(id, _caller), cancellationToken);
        var reader = _system.ActorOf(HistoryReader.Props(entity, _settings, at));
        object reply;
        try
        {
            reply = await reader.Ask<object>(ReadHistory.Instance, _timeout, cancellationToken);
        }
        catch (AskTimeoutException)
        {
            reader.Tell(PoisonPill.Instance);
            throw new StoreUnavailableException("the instance's journal could not be read in time; retry");
        }
        return reply is InstanceHistory history
            ? history with { InstanceId = instanceId }
            : throw new StoreUnavailableException("the instance's journal could not be read; retry");
    }

    public async Task<InstanceView> ForkInstanceAsync(string instanceId, long at, string? newInstanceId = null,
        CancellationToken cancellationToken = default)
    {
        if (at < 1)
            throw new ValidationFailedException("at must be a sequence number of 1 or more");
        if (newInstanceId is not null && !PromptValidation.IsValidId(newInstanceId))
            throw new ValidationFailedException("instanceId must be 1-128 letters, digits, '_', '-' or '.'");
        var (_, entity) = await AskOwnAsync<InstanceView>(instanceId, id => new GetInstance(id, _caller), cancellationToken);
        var reader = _system.ActorOf(HistoryReader.Props(entity, _settings, at));
        object reply;
        try
        {
            reply = await reader.Ask<object>(ReadForkBasis.Instance, _timeout, cancellationToken);
        }
        catch (AskTimeoutException)
        {
            reader.Tell(PoisonPill.Instance);
            throw new StoreUnavailableException("the instance's journal could not be read in time; retry");
        }
        if (reply is not ForkBasis { Start: { } start } basis)
            throw new StoreUnavailableException("the instance's journal could not be read; retry");
        var fork = new ForkInstance(Entity(newInstanceId ?? Guid.NewGuid().ToString("N")), start.Scope, start,
            basis.UserValues, basis.Conversation, instanceId, basis.SequenceNr, _caller, _keyId);
        return Outward(await AskAsync<InstanceView>(fork, cancellationToken));
    }
}
