namespace PromptActors.Runs;

/// <summary>
/// Run ids are minted by the instance that writes the run: <c>{instanceId}.{32 hex}</c>, so a read can find that instance
/// (and wait for its outbox) before the run's first row has landed. An instance id longer than
/// <see cref="MaxEmbeddedInstanceId"/> characters gets a plain random id (run ids are ids: at most 128 characters), as do
/// the runs written before this scheme.
/// </summary>
public static class RunIds
{
    /// <summary>Longest instance id that fits in a run id with its '.' and 32 random hex digits.</summary>
    public const int MaxEmbeddedInstanceId = Prompts.PromptValidation.MaxIdLength - 33;

    public static string Mint(string instanceId)
    {
        var random = Guid.NewGuid().ToString("N");
        return instanceId.Length <= MaxEmbeddedInstanceId ? instanceId + "." + random : random;
    }

    /// <summary>The instance that minted <paramref name="runId"/>, or null when the id does not name one.</summary>
    public static string? InstanceOf(string runId)
    {
        var dot = runId.LastIndexOf('.');
        if (dot < 1 || runId.Length - dot - 1 != 32)
            return null;
        foreach (var c in runId.AsSpan(dot + 1))
        {
            if (!char.IsAsciiHexDigitLower(c) && !char.IsAsciiDigit(c))
                return null;
        }
        return runId[..dot];
    }
}
