using System.Text.Json.Serialization;

namespace PromptActors.Instances;

/// <summary>
/// One step of a running turn. A turn is a sequence of durable steps held in the state (<see cref="CurrentTask.Steps"/>),
/// each opened and closed by journaled events, so recovery knows exactly where a turn stood. Today a turn has one step, a
/// <see cref="ModelCallStep"/>; tool calls, approvals and further model calls are added as new kinds (a new derived
/// record with its own discriminator) without changing the others. What each step becomes on recovery is decided in
/// <see cref="InstanceDecider.Recover"/>.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "kind")]
[JsonDerivedType(typeof(ModelCallStep), "model_call")]
public abstract record TurnStep(DateTimeOffset StartedAt);

/// <summary>
/// The model is called with the turn's messages and its reply streams. Opened by <see cref="MessageSubmitted"/>; closed by
/// <see cref="ExecutionCompleted"/>, <see cref="ExecutionFailed"/> or <see cref="ExecutionCancelled"/>. The call itself is
/// not durable: a turn found in this step on recovery ends <c>interrupted</c>.
/// </summary>
public sealed record ModelCallStep(string Model, string Provider, DateTimeOffset StartedAt) : TurnStep(StartedAt);
