using System.Text;
using Akka.Actor;
using Microsoft.Extensions.AI;
using PromptActors.Models;
using PromptActors.Prompts;
using PromptActors.Streaming;

namespace PromptActors.Instances;

/// <summary>
/// The model call of one task, owned by its instance: the provider stream (on a pool thread), the chunks on their way to
/// the instance, the text and chunks so far, the timing and the cancellation. Only its outcome is journaled (see
/// <see cref="Outcome"/>); chunks are not. Every member but the stream itself runs on the instance's thread.
/// </summary>
internal sealed class ModelCall : IDisposable
{
    private readonly IReadOnlyList<ChatMessage> _request;
    private readonly Attachments.AttachmentSource? _attachments;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _cts = new();
    private readonly StringBuilder _text = new();
    private readonly List<string> _chunks = new();
    private readonly long _startedAt;
    private long? _firstTokenAt;
    private ChunkInbox? _inbox;
    // Given once per call (not per batch of chunks: a delegate per drain was ~60 B per chunk in the fan-out benchmark).
    private readonly Action _firstToken;
    private readonly Action<ReplyChunk> _publish;

    /// <param name="firstToken">Runs once, at the call's first chunk.</param>
    /// <param name="publish">Runs for every chunk, in order.</param>
    /// <param name="firstIndex">The stream index of the call's first chunk (the turn's earlier steps used the ones before).</param>
    /// <param name="attachments">Loads the bytes of the request's image and file parts before the call (null: it has none).</param>
    public ModelCall(string taskId, IReadOnlyList<ChatMessage> request, ModelEntry model, TimeProvider time, Action firstToken,
        Action<ReplyChunk> publish, int firstIndex = 0, Attachments.AttachmentSource? attachments = null)
    {
        _attachments = attachments;
        FirstIndex = firstIndex;
        TaskId = taskId;
        _request = request;
        Model = model;
        _time = time;
        _firstToken = firstToken;
        _publish = publish;
        _startedAt = time.GetTimestamp();
    }

    public string TaskId { get; }

    /// <summary>The stream index of this call's first chunk.</summary>
    public int FirstIndex { get; }

    public ModelEntry Model { get; }

    /// <summary>The chunks received so far, in order (index = position).</summary>
    public List<string> Chunks => _chunks;

    public string Text => _text.ToString();

    /// <summary>Starts streaming from the provider; chunks and the end come back to <paramref name="instance"/> as messages.</summary>
    public void Start(IActorRef instance, ChatOptions options)
    {
        var inbox = _inbox = new ChunkInbox(TaskId);
        var (client, messages, time, token, attachments) = (Model.Client, _request, _time, _cts.Token, _attachments);
        _ = Task.Run(() => StreamAsync(instance, inbox, client, messages, options, time, token, attachments), CancellationToken.None);
    }

    public void Cancel() => _cts.Cancel();

    /// <summary>Takes every chunk the stream has queued, in order. A notice of an earlier call's inbox is ignored.</summary>
    public void Drain(ChunksQueued notice)
    {
        if (!ReferenceEquals(notice.Inbox, _inbox))
            return;
        Drain();
    }

    private void Drain()
    {
        if (_inbox is not { } inbox)
            return;
        inbox.Rearm();
        while (inbox.TryTake(out var text))
        {
            if (_firstTokenAt is null)
            {
                _firstTokenAt = inbox.FirstChunkAt;
                _firstToken();
            }
            _text.Append(text);
            _chunks.Add(text);
            _publish(new ReplyChunk(TaskId, FirstIndex + _chunks.Count - 1, text));
        }
    }

    /// <summary>
    /// The event that records how the call ended, for turn <paramref name="turn"/>: cancelled, failed (<c>provider_error</c>),
    /// asking for tools (<see cref="ToolCallsRequested"/>, or <c>max_iterations</c> when the turn may make no more model
    /// calls), or a final reply, which is checked against the prompt's response format (one that is not the JSON asked for
    /// fails the task <c>invalid_output</c>, its text kept). Usage is what the provider reported (estimated with the model's
    /// tokenizer when it sent none); a turn's outcome carries the usage, cost and time of all its model calls. Every chunk
    /// the stream queued before its end is taken first.
    /// </summary>
    public IInstanceEvent Outcome(ModelFinished done, CurrentTask turn, PromptSettings settings, Tools.IToolRegistry? tools,
        IJsonSchemaValidator? schemas)
    {
        Drain();
        _inbox = null;
        var text = Text;
        var ttft = _firstTokenAt is { } first ? _time.GetElapsedTime(_startedAt, first).TotalMilliseconds : (double?)null;
        var total = _time.GetElapsedTime(_startedAt, done.Timestamp).TotalMilliseconds;
        var usage = UsageEstimator.Resolve(done.Usage, _request, text, Model.Tokens);
        var cost = CostCalculator.Compute(usage, Model.Pricing);
        var now = _time.GetUtcNow();
        if (done is { Cancelled: false, Error: null, ToolCalls: { Count: > 0 } calls } && turn.Iteration + 1 < settings.IterationLimit)
            return new ToolCallsRequested(done.TaskId, turn.Iteration, text, Tools.ToolPlanner.Plan(calls, settings, tools, schemas,
                    turn.AllCalls.Select(c => c.CallId)),
                usage, cost, ttft, total, now, _chunks.Count);

        // A reply that is not the JSON asked for is repaired by another model call while the turn may make one.
        var invalid = done is { Cancelled: false, Error: null, ToolCalls: null or { Count: 0 } }
            ? StructuredOutput.Check(text, settings.ResponseFormat, schemas)
            : null;
        if (invalid is not null && turn.Repairs < settings.RepairLimit && turn.Iteration + 1 < settings.IterationLimit)
            return new OutputRepairRequested(done.TaskId, turn.Iteration, text, invalid, usage, cost, ttft, total, now, _chunks.Count);

        // The turn's figures: every model call's usage and cost, the first token of its first call, the time since it began.
        var earlier = turn.EarlierUsage;
        double? callTtft = null;
        if (turn.Iteration > 0)
        {
            callTtft = ttft;
            usage = earlier.Plus(usage);
            cost += turn.CostSoFar ?? 0m;
            ttft = turn.FirstTokenMs ?? ttft;
            total = Math.Max(total, (now - turn.SubmittedAt).TotalMilliseconds);
        }
        return done switch
        {
            { Cancelled: true } => new ExecutionCancelled(done.TaskId, text, usage, cost, ttft, total, now, callTtft),
            { Error: { } error } => new ExecutionFailed(done.TaskId, ErrorCodes.ProviderError, error, text, usage, cost, ttft, total, now, callTtft),
            { ToolCalls.Count: > 0 } => new ExecutionFailed(done.TaskId, ErrorCodes.MaxIterations,
                $"the turn made {settings.IterationLimit} model calls (settings.maxIterations) and the model still asks for tools",
                text, usage, cost, ttft, total, now, callTtft),
            _ => invalid is not null
                ? new ExecutionFailed(done.TaskId, ErrorCodes.InvalidOutput, invalid, text, usage, cost, ttft, total, now, callTtft)
                : new ExecutionCompleted(done.TaskId, text, usage, cost, ttft, total, now, callTtft),
        };
    }

    public void Dispose() => _cts.Dispose();

    private static async Task StreamAsync(IActorRef self, ChunkInbox inbox, IChatClient client, IReadOnlyList<ChatMessage> messages,
        ChatOptions options, TimeProvider time, CancellationToken token, Attachments.AttachmentSource? attachments)
    {
        var taskId = inbox.TaskId;
        TokenUsage? usage = null;
        List<FunctionCallContent>? calls = null;
        try
        {
            if (Attachments.AttachmentSource.Refers(messages))
                messages = attachments is null
                    ? throw new InvalidOperationException("the message has image or file parts, and this node has no attachment store")
                    : await attachments.ResolveAsync(messages, token).ConfigureAwait(false);
            await foreach (var update in client.GetStreamingResponseAsync(messages, options, token).WithCancellation(token))
            {
                foreach (var content in update.Contents)
                {
                    if (content is UsageContent u)
                        usage = UsageEstimator.FromDetails(u.Details);
                    else if (content is FunctionCallContent { InformationalOnly: false } call)
                        (calls ??= new List<FunctionCallContent>()).Add(call);
                }
                var text = update.Text;
                if (!string.IsNullOrEmpty(text))
                    inbox.Add(self, text, time);
            }
            self.Tell(new ModelFinished(taskId, usage, null, Cancelled: false, time.GetTimestamp(), calls));
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            self.Tell(new ModelFinished(taskId, usage, null, Cancelled: true, time.GetTimestamp()));
        }
        catch (Exception ex)
        {
            self.Tell(new ModelFinished(taskId, usage, ex.GetBaseException().Message, Cancelled: false, time.GetTimestamp()));
        }
    }
}

/// <summary>The model stream queued chunks in <see cref="Inbox"/> (sent once per batch, not per chunk).</summary>
internal sealed record ChunksQueued(ChunkInbox Inbox) : INoSerializationVerificationNeeded;

/// <summary>The model stream of task <see cref="TaskId"/> ended (completed, failed with <see cref="Error"/>, or cancelled).
/// <see cref="ToolCalls"/> are the calls the model asked for (null: none).</summary>
internal sealed record ModelFinished(string TaskId, TokenUsage? Usage, string? Error, bool Cancelled, long Timestamp,
    IReadOnlyList<FunctionCallContent>? ToolCalls = null) : INoSerializationVerificationNeeded;

/// <summary>
/// Chunks of one task on their way from the model stream (a pool thread) to the instance. The stream queues each chunk
/// and tells the instance only when no earlier notice is still unread, so a fast model costs one mailbox message per
/// batch of chunks rather than per chunk. The instance re-arms the notice before it drains, so no chunk is left behind.
/// </summary>
internal sealed class ChunkInbox(string taskId)
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _queue = new();
    private int _notified;
    private long _firstChunkAt;

    public string TaskId { get; } = taskId;

    /// <summary>When the stream produced the first chunk (for time to first token); read after taking that chunk.</summary>
    public long FirstChunkAt => Volatile.Read(ref _firstChunkAt);

    public void Add(IActorRef instance, string text, TimeProvider time)
    {
        if (_firstChunkAt == 0)
            Volatile.Write(ref _firstChunkAt, time.GetTimestamp()); // only the stream's own thread writes it
        _queue.Enqueue(text);
        if (Interlocked.Exchange(ref _notified, 1) == 0)
            instance.Tell(new ChunksQueued(this));
    }

    public void Rearm() => Volatile.Write(ref _notified, 0);

    public bool TryTake(out string text) => _queue.TryDequeue(out text!);
}
