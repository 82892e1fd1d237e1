namespace PromptActors.Persistence; internal static class Placeholder { }
