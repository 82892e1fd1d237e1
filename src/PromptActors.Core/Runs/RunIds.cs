namespace PromptActors.Runs;

/// <summary>
/// Run ids are minted by the instance that writes the run: <c>{instanceId}.{16 hex}</c>, so a read can find that instance
/// (and wait for its outbox) before the run's first row has landed. An instance id longer than
/// <see cref="MaxEmbeddedInstanceId"/> characters gets a plain random id (run ids are ids: at most 128 characters), as do
/// the runs written before this scheme.
/// </summary>
public static class RunIds
{
    /// <summary>Random hex digits after the instance id (64 bits: an instance mints one run, so they only guard a reused id).</summary>
    public const int SuffixLength = 16;

    /// <summary>Longest instance id that fits in a run id with its '.' and <see cref="SuffixLength"/> random hex digits.</summary>
    public const int MaxEmbeddedInstanceId = Prompts.PromptValidation.MaxIdLength - SuffixLength - 1;

    public static string Mint(string instanceId) => instanceId.Length <= MaxEmbeddedInstanceId
        ? instanceId + "." + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(SuffixLength / 2))
        : Guid.NewGuid().ToString("N");

    /// <summary>The instance that minted <paramref name="runId"/>, or null when the id does not name one.</summary>
    public static string? InstanceOf(string runId)
    {
        var dot = runId.LastIndexOf('.');
        if (dot < 1 || runId.Length - dot - 1 != SuffixLength)
            return null;
        foreach (var c in runId.AsSpan(dot + 1))
        {
            if (!char.IsAsciiHexDigitLower(c) && !char.IsAsciiDigit(c))
                return null;
        }
        return runId[..dot];
    }
}
