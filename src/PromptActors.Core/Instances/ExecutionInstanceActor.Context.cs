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

/// <summary>What a turn runs with: the pinned prompt and the scoped variables (loaded by the node's caches), and the view.</summary>
public sealed partial class ExecutionInstanceActor
{
    /// <summary>The prompt an instance runs on: the owner and version it started with.</summary>
    private static GetPrompt PinnedPrompt(InstanceStarted start) => new(start.PromptId, start.PromptVersion, start.PromptOwnedBy);

    /// <summary>
    /// The prompt and scoped variables <paramref name="cmd"/> runs with. The first time a command asks, they are loaded
    /// (from the node's caches) while the command waits in the stash with every message behind it; once they are there the
    /// command is handled again from the start and this returns true with them. A load that failed is answered here (false).
    /// No continuation is stored: the handler itself is the continuation.
    /// </summary>
    private bool TryContext(IInstanceCommand cmd, GetPrompt get, InstanceScope scope, out ExecContext ctx)
    {
        ctx = null!;
        if (_loaded is { } loaded && ReferenceEquals(loaded.For, cmd))
        {
            _loaded = null;
            if (loaded.Error is { } error)
            {
                if (cmd is ContinueTurn)
                    FailTurn(error.Code, error.Detail); // the turn's next model call cannot be built
                else
                    Sender.Tell(error);
                if (!_state.Started)
                    Passivate();
                return false;
            }
            ctx = loaded.Context!;
            _prompt = ctx.Prompt;
            return true;
        }
        var (promptId, version) = (get.PromptId, get.Version);
        var pinned = _prompt is { } cached && get.ResolveFor is null && cached.Id == promptId && cached.Version == version
                     && cached.OwnedBy == (get.Owner ?? PromptOwner.BuiltIn);
        // The usual turn: the pinned prompt is at hand and the node's cache has published the scope's variables.
        if (pinned && _deps.PublishedVariables?.TryGet(scope, out var published) == true)
        {
            ctx = new ExecContext(_prompt!, published);
            return true;
        }
        var request = ++_contextRequest;
        var timeout = _settings.AskTimeout;
        Task<object> promptTask = pinned
            ? Task.FromResult<object>(new PromptFound(_prompt!))
            : _deps.PromptCache.Ask<object>(get, timeout);
        var scopedTask = _deps.ScopedVariables.Ask<object>(new GetScopedVariables(scope), timeout);
        ContextLoaded.LoadAsync(request, promptId, version, promptTask, scopedTask).PipeTo(Self);

        _loadingFor = cmd;
        _unhandled.Add((cmd, Sender)); // still unanswered: a stop meanwhile tells its caller
        Stash.Stash();
        Become(AwaitingContext);
        return false;
    }

    /// <summary>While the context loads, every message waits (one writer, in order); then the command is handled again.</summary>
    private void AwaitingContext(object message)
    {
        if (message is not ContextLoaded loaded)
        {
            Stash.Stash();
            return;
        }
        if (loaded.Request != _contextRequest)
            return;
        _loaded = (_loadingFor!, loaded.Context, loaded.Error);
        _loadingFor = null;
        Become(OnCommand);
        Stash.UnstashAll(); // the waiting command comes first: it was stashed first
    }

    private bool TryModel(Prompt prompt, PromptSettings settings, out ModelEntry model, out Rejected rejected)
    {
        var modelId = settings.Model ?? _deps.Models.DefaultModelId;
        if (_deps.Models.TryGet(modelId, out model))
        {
            rejected = null!;
            return true;
        }
        rejected = new Rejected(ErrorCodes.ValidationFailed,
            $"prompt '{prompt.Id}' v{prompt.Version} runs on model '{modelId}', which is not configured (known: {string.Join(", ", _deps.Models.ModelIds)})");
        return false;
    }

    private BuiltMessages Build(Prompt prompt, ScopedVariableValues scoped, IReadOnlyDictionary<string, string> userValues,
        IReadOnlyList<ConversationMessage> conversation, string? userInput, string? runId, bool apply,
        IReadOnlyList<PromptActors.Attachments.MessagePart>? parts = null)
    {
        var merged = Merge(prompt, scoped, userValues, conversation.Count, runId);
        return MessageBuilder.Build(prompt, conversation, userInput, merged, apply, _settings.MaxRenderedChars, parts);
    }

    /// <summary>Where this instance's model calls load the bytes of image and file parts (its scope's attachments).</summary>
    private PromptActors.Attachments.AttachmentSource? AttachmentLoader => _deps.Attachments is { } store && _state.Start is { } start
        ? new PromptActors.Attachments.AttachmentSource(store, TenantIds.Tag(start.Scope))
        : null;

    private MergedVariables Merge(Prompt prompt, ScopedVariableValues scoped, IReadOnlyDictionary<string, string> userValues,
        int messageCount, string? runId) =>
        MergedVariables.Merge(prompt.DefaultValues(), scoped.User, scoped.Org, scoped.Project, userValues,
            ComputedVariables.Create(Time, PublicId, prompt.Id, runId, messageCount));

    /// <summary>The id this instance's tenant knows it by: without the tenant's tag (see <see cref="TenantIds"/>).</summary>
    private string PublicId => TenantIds.Public(_instanceId, _state.Start?.Scope ?? _startingIn);

    private Rejected Refusal(BuiltMessages built) => built.TooLarge
        ? new(ErrorCodes.ValidationFailed,
            $"this turn's messages would be longer than {_settings.MaxRenderedChars} characters once their variables are filled in " +
            "(PromptActors:Instances:MaxRenderedChars)")
        : new(ErrorCodes.MissingVariables, "variables without a value: " + string.Join(", ", built.Missing), built.Missing);

    /// <summary>
    /// The view <paramref name="cmd"/> is answered with, once its variables (when the instance shows them) are loaded;
    /// false while they load (the command is handled again then) or when loading failed (answered already).
    /// </summary>
    private bool TryView(IInstanceCommand cmd, out InstanceView view)
    {
        view = null!;
        ExecContext? ctx = null;
        if (_state.Config.ShowVariables && !TryContext(cmd, PinnedPrompt(_state.Start!), _state.Start!.Scope, out ctx))
            return false;
        view = BuildView(ctx);
        return true;
    }

    private InstanceView BuildView(ExecContext? ctx)
    {
        var start = _state.Start!;
        VariablesView? variables = null;
        if (start.Config.ShowVariables && ctx is not null)
        {
            var merged = Merge(ctx.Prompt, ctx.Scoped, _state.UserValues, _state.Conversation.Count, _state.RunId);
            variables = new VariablesView(
                merged.Values.ToDictionary(kv => kv.Key, kv => kv.Value.Value, StringComparer.Ordinal),
                merged.Values.ToDictionary(kv => kv.Key, kv => kv.Value.Source, StringComparer.Ordinal),
                new Dictionary<string, string>(_state.UserValues, StringComparer.Ordinal));
        }
        return new InstanceView(
            _instanceId, start.PromptId, start.PromptVersion, _state.Status, start.Scope, start.Config, start.Retain,
            _state.Conversation.ToArray(), variables,
            new ExecutionView(_state.Current?.TaskId, _state.LastTask?.TaskId, _state.LastStats, _state.LastError,
                _state.LastTask is { Outcome: TaskOutcome.Completed } last
                    ? StructuredOutput.Parse(last.Text, _state.Start?.Settings.ResponseFormat) : null,
                PendingCalls()),
            new RunTrackingView(_state.RunId, start.Source.Type, start.Source.Id, start.RunName, _state.TotalTokens,
                _state.TotalCost, _state.TaskCount, _state.RunRowsWritten),
            _state.IsExecuting ? _call?.Text : null,
            start.At, _state.UpdatedAt, Node);
    }

    /// <summary>The running turn's calls that wait for a person or the caller (null when none does).</summary>
    private IReadOnlyList<PendingToolCall>? PendingCalls()
    {
        if (_state.Current?.ToolStep is not { } step)
            return null;
        var pending = step.Calls.Where(c => c.Status is ToolCallStatus.AwaitingApproval or ToolCallStatus.AwaitingClient)
            .Select(c => new PendingToolCall(c.CallId, c.Name, c.Arguments, c.Status)).ToArray();
        return pending.Length > 0 ? pending : null;
    }

    private sealed record ExecContext(Prompt Prompt, ScopedVariableValues Scoped);

    private sealed record ContextLoaded(long Request, ExecContext? Context, Rejected? Error) : INoSerializationVerificationNeeded
    {
        public static async Task<ContextLoaded> LoadAsync(long request, string promptId, int? version, Task<object> promptTask,
            Task<object> scopedTask)
        {
            object prompt, scoped;
            try
            {
                prompt = await promptTask;
            }
            catch (Exception)
            {
                return new(request, null, new Rejected(ErrorCodes.StoreUnavailable, $"loading prompt '{promptId}' timed out"));
            }
            try
            {
                scoped = await scopedTask;
            }
            catch (Exception)
            {
                return new(request, null, new Rejected(ErrorCodes.StoreUnavailable, "loading scoped variables timed out"));
            }
            switch (prompt)
            {
                case PromptNotFound:
                    return new(request, null, new Rejected(ErrorCodes.PromptNotFound,
                        version is null ? $"prompt '{promptId}' does not exist" : $"prompt '{promptId}' has no version {version}"));
                case PromptLoadFailed f:
                    return new(request, null, new Rejected(ErrorCodes.StoreUnavailable, $"loading prompt '{promptId}' failed: {f.Reason}"));
            }
            if (scoped is ScopedVariablesUnavailable u)
                return new(request, null, new Rejected(ErrorCodes.StoreUnavailable, $"loading scoped variables failed: {u.Reason}"));
            return new(request, new ExecContext(((PromptFound)prompt).Prompt, (ScopedVariableValues)scoped), null);
        }
    }

}
