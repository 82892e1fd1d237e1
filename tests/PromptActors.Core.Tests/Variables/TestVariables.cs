namespace PromptActors.Variables.Tests;

internal static class TestVariables
{
    public static MergedVariables Of(params (string Name, string Value)[] values) =>
        MergedVariables.Merge(null, null, null, null, values.ToDictionary(v => v.Name, v => v.Value, StringComparer.Ordinal), null);

    public static MergedVariables FromLayers(IReadOnlyDictionary<VariableSource, IReadOnlyDictionary<string, string>> layers)
    {
        IReadOnlyDictionary<string, string>? Layer(VariableSource s) => layers.GetValueOrDefault(s);

        return MergedVariables.Merge(
            Layer(VariableSource.PromptDefault),
            Layer(VariableSource.UserScope),
            Layer(VariableSource.OrgScope),
            Layer(VariableSource.ProjectScope),
            Layer(VariableSource.UserProvided),
            Layer(VariableSource.Computed));
    }
}
