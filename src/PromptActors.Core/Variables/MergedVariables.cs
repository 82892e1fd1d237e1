using System.Collections.ObjectModel;

namespace PromptActors.Variables;

/// <summary>The result of merging all variable layers by precedence; immutable once built.</summary>
public sealed class MergedVariables
{
    private readonly Dictionary<string, ResolvedValue>.AlternateLookup<ReadOnlySpan<char>> _lookup;

    private MergedVariables(Dictionary<string, ResolvedValue> values)
    {
        _lookup = values.GetAlternateLookup<ReadOnlySpan<char>>();
        Values = new ReadOnlyDictionary<string, ResolvedValue>(values);
    }

    /// <summary>A variable set with no variables.</summary>
    public static MergedVariables Empty { get; } = new(new Dictionary<string, ResolvedValue>(StringComparer.Ordinal));

    /// <summary>Every merged variable (ordinal keys) with its value and the layer that supplied it.</summary>
    public IReadOnlyDictionary<string, ResolvedValue> Values { get; }

    /// <summary>Merges the layers; on conflicts computed beats user-provided beats project beats org beats user scope beats prompt defaults.</summary>
    public static MergedVariables Merge(
        IReadOnlyDictionary<string, string>? promptDefaults,
        IReadOnlyDictionary<string, string>? userScope,
        IReadOnlyDictionary<string, string>? orgScope,
        IReadOnlyDictionary<string, string>? projectScope,
        IReadOnlyDictionary<string, string>? userProvided,
        IReadOnlyDictionary<string, string>? computed)
    {
        var values = new Dictionary<string, ResolvedValue>(StringComparer.Ordinal);

        // Lowest precedence first: each later layer overwrites the earlier ones.
        Apply(values, promptDefaults, VariableSource.PromptDefault);
        Apply(values, userScope, VariableSource.UserScope);
        Apply(values, orgScope, VariableSource.OrgScope);
        Apply(values, projectScope, VariableSource.ProjectScope);
        Apply(values, userProvided, VariableSource.UserProvided);
        Apply(values, computed, VariableSource.Computed);

        return new MergedVariables(values);
    }

    /// <summary>Looks up a variable by name without allocating.</summary>
    public bool TryGet(ReadOnlySpan<char> name, out ResolvedValue value) => _lookup.TryGetValue(name, out value);

    private static void Apply(Dictionary<string, ResolvedValue> target, IReadOnlyDictionary<string, string>? layer, VariableSource source)
    {
        if (layer is null)
        {
            return;
        }

        foreach (var (name, value) in layer)
        {
            target[name] = new ResolvedValue(value ?? string.Empty, source);
        }
    }
}
