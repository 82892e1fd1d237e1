namespace PromptActors;

/// <summary>
/// Marker for every message that may cross nodes and every persisted event or snapshot.
/// Bound to <see cref="Serialization.PromptActorsSerializer"/>; each implementing type needs a stable manifest there.
/// </summary>
public interface IPromptActorsMessage;
