using PromptActors.Instances;
using PromptActors.Runs;

namespace PromptActors.Engine;

/// <summary>
/// Per-tenant instance ids (see <see cref="TenantIds"/>): a caller's ids go in under its tenant's tag and come back out
/// as the caller's own, in replies, refusals and runs.
/// </summary>
public sealed partial class PromptExecutionEngine
{
    /// <summary>The instance id a caller's id names: under its tenant's tag for a caller, as given for the unrestricted engine.</summary>
    private string Entity(string id) => _tag is null ? id : _tag + "." + id;

    /// <summary>The id the caller knows an instance by (its own id without its tag).</summary>
    private string Outward(string instanceId) =>
        _tag is not null && instanceId.StartsWith(_tag + ".", StringComparison.Ordinal) ? instanceId[(_tag.Length + 1)..] : instanceId;

    private InstanceView Outward(InstanceView view) => _tag is null ? view : view with { InstanceId = Outward(view.InstanceId) };

    /// <summary>A refusal as the caller should read it: naming its own id, not the tagged one.</summary>
    private Rejected Outward(Rejected rejected, string instanceId) =>
        Outward(instanceId) is var own && own == instanceId
            ? rejected
            : rejected with { Detail = rejected.Detail.Replace($"'{instanceId}'", $"'{own}'", StringComparison.Ordinal) };

    /// <summary>
    /// Asks the caller's instance <paramref name="instanceId"/>: under its tenant's tag first, then — for an instance a
    /// caller started before ids were per tenant — the id as given (another tenant's instance answers not-found either way).
    /// Returns the answer and the id that answered.
    /// </summary>
    private async Task<(T Reply, string InstanceId)> AskOwnAsync<T>(string instanceId, Func<string, IInstanceCommand> command,
        CancellationToken cancellationToken)
    {
        CheckId(instanceId);
        if (_tag is null)
            return (await AskAsync<T>(command(instanceId), cancellationToken), instanceId);
        var tagged = Entity(instanceId);
        try
        {
            var reply = await AskAsync<T>(command(tagged), cancellationToken);
            // An ask for any answer (a stream) gets the refusal as its answer rather than as an exception.
            if (reply is not Rejected { Code: ErrorCodes.InstanceNotFound })
                return (reply, tagged);
        }
        catch (InstanceNotFoundException)
        {
        }
        return (await AskAsync<T>(command(instanceId), cancellationToken), instanceId);
    }

    /// <summary>A run as its caller sees it: naming the instance by the caller's own id.</summary>
    private RunRecord? Outward(RunRecord? run) =>
        run?.Info.InstanceId is { } id && _tag is not null && Outward(id) != id ? run with { Info = run.Info with { InstanceId = Outward(id) } } : run;
}
