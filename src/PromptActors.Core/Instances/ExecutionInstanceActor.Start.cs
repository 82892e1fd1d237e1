using System.Text;
using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Event;
using Akka.Persistence;
using Akka.Streams;
using Microsoft.Extensions.AI;
using PromptActors.Models;
using PromptActors.Prompts;
using PromptActors.Runs;
using PromptActors.Streaming;
using PromptActors.Variables;

namespace PromptActors.Instances;

/// <summary>startInstance: creates the instance from its prompt (resolved for its scope), and runs it at once with autoRun.</summary>
public sealed partial class ExecutionInstanceActor
{
    private void OnStart(StartInstance cmd)
    {
        Handling(cmd);
        if (Carry(cmd) is not Decision.Proceed)
            return;
        if (!TryContext(cmd, new GetPrompt(cmd.PromptId, cmd.PromptVersion, ResolveFor: cmd.Scope), cmd.Scope, out var ctx))
            return; // handled again once the prompt (resolved for the instance's scope) and its scoped variables are loaded

        var replyTo = Sender;
        var config = cmd.ExecutionConfig ?? ExecutionConfig.Default;
        var prompt = ctx.Prompt;
        var settings = cmd.Model is null ? prompt.Settings : prompt.Settings with { Model = cmd.Model };
        if (cmd.ClientTools is { Count: > 0 } clientTools)
        {
            // The caller's client tools join the prompt's for the life of this instance.
            settings = settings with { ClientTools = (settings.ClientTools ?? []).Concat(clientTools).ToArray() };
            var clash = new List<string>();
            Prompts.SettingsValidation.Check(settings, clash);
            if (clash.Count > 0)
            {
                replyTo.Tell(new Rejected(ErrorCodes.ValidationFailed, "clientTools: " + string.Join("; ", clash)));
                Passivate();
                return;
            }
        }
        if (!TryModel(prompt, settings, out var model, out var rejected))
        {
            replyTo.Tell(rejected);
            Passivate();
            return;
        }
        var userValues = cmd.Variables is null
            ? new Dictionary<string, string>(StringComparer.Ordinal)
            : new Dictionary<string, string>(cmd.Variables, StringComparer.Ordinal);

        _startingIn = cmd.Scope;
        // With autoRun the first message is part of the start: refuse the start if it cannot run.
        string? taskId = null, runId = null;
        BuiltMessages? built = null;
        if (config.AutoRun)
        {
            taskId = NewId();
            runId = config.TrackInRuns ? RunIds.Mint(_instanceId) : null; // names this instance, so a run read finds it (read your writes)
            built = Build(prompt, ctx.Scoped, userValues, [], null, runId, config.ApplyVariables);
            if (!built.Ok)
            {
                replyTo.Tell(Refusal(built));
                Passivate();
                return;
            }
        }

        var started = new InstanceStarted(_instanceId, prompt.Id, prompt.Version, cmd.Scope, userValues, config,
            cmd.Source ?? new RunSource("prompt", prompt.Id), cmd.RunName, cmd.Retain, settings, Time.GetUtcNow(),
            prompt.OwnedBy.IsBuiltIn ? null : prompt.OwnedBy);
        _persistReplyTo = replyTo;
        Persist(started, e =>
        {
            _persistReplyTo = null;
            _state.Apply(e);
            _log.Info("Instance {0} started from prompt {1} v{2}", _instanceId, prompt.Id, prompt.Version);
            if (built is not null)
                Submit(taskId!, runId, null, built.Messages, model, replyTo, replyWithView: true, ctx, keyId: cmd.KeyId,
                    traceParent: cmd.TraceParent);
            else
            {
                replyTo.Tell(BuildView(ctx));
                MaybeSnapshot();
            }
        });
    }

    /// <summary>A fork: this new instance takes another's state as of one of its events, journaled as one event.</summary>
    private void OnFork(ForkInstance cmd)
    {
        Handling(cmd);
        if (Carry(cmd) is not Decision.Proceed)
            return;
        var source = cmd.Source;
        var pinned = new GetPrompt(source.PromptId, source.PromptVersion, source.PromptOwnedBy);
        if (!TryContext(cmd, pinned, cmd.Scope, out var ctx))
            return; // handled again once the pinned prompt and the scoped variables are loaded

        var replyTo = Sender;
        var now = Time.GetUtcNow();
        var forked = new InstanceForked(source with { InstanceId = _instanceId, Scope = cmd.Scope, At = now }, cmd.UserValues,
            cmd.Conversation, cmd.FromInstanceId, cmd.FromSequenceNr, now);
        _startingIn = cmd.Scope;
        _persistReplyTo = replyTo;
        Persist(forked, e =>
        {
            _persistReplyTo = null;
            _state.Apply(e);
            _log.Info("Instance {0} forked from {1} at event {2}", _instanceId, cmd.FromInstanceId, cmd.FromSequenceNr);
            replyTo.Tell(BuildView(ctx));
            MaybeSnapshot();
        });
    }
}
