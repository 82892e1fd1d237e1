using System.Runtime.CompilerServices;
using Akka.Actor;
using Akka.Cluster.Tools.PublishSubscribe;
using Akka.Streams.Dsl;
using PromptActors.Instances;
using PromptActors.Prompts;
using PromptActors.Telemetry;
using PromptActors.Runs;
using PromptActors.Variables;
using PromptActors.Streaming;

namespace PromptActors.Engine;

/// <summary>Reply streams: opening a subscription (in one ask with a message, or alone), reading it on this node or across nodes.</summary>
public sealed partial class PromptExecutionEngine
{
    public IAsyncEnumerable<ReplyEvent> StreamAsync(string instanceId, long fromIndex = 0, CancellationToken cancellationToken = default)
    {
        CheckId(instanceId);
        return Deferred(() => OpenStreamAsync(instanceId, fromIndex, null, cancellationToken));
    }

    public IAsyncEnumerable<ReplyEvent> ResumeStreamAsync(string instanceId, string afterTaskId, long afterIndex,
        CancellationToken cancellationToken = default)
    {
        CheckId(instanceId);
        CheckId(afterTaskId);
        return Deferred(() => OpenStreamAsync(instanceId, afterIndex < long.MaxValue ? afterIndex + 1 : afterIndex, afterTaskId,
            cancellationToken));
    }

    public async Task<IAsyncEnumerable<ReplyEvent>> OpenStreamAsync(string instanceId, long fromIndex = 0, string? resumeTaskId = null,
        CancellationToken cancellationToken = default)
    {
        if (resumeTaskId is not null)
            CheckId(resumeTaskId);
        var (reply, id) = await AskOwnAsync<object>(instanceId,
            entity => new SubscribeReplyStream(entity, fromIndex, resumeTaskId, _caller), cancellationToken);
        if (reply is Rejected rejected)
            throw Outward(rejected, id).ToException();
        return Read(id, reply, cancellationToken);
    }

    public Task<StreamedMessage> ExecuteMessageStreamAsync(string instanceId, string? userInput = null,
        CancellationToken cancellationToken = default) =>
        ExecuteMessageStreamAsync(instanceId, userInput, null, cancellationToken);

    public Task<StreamedMessage> ExecuteMessageStreamAsync(string instanceId, string? userInput, string? requestId,
        CancellationToken cancellationToken = default) =>
        ExecuteMessageStreamAsync(instanceId, userInput, requestId, null, cancellationToken);

    public Task<StreamedMessage> ExecuteMessageStreamAsync(string instanceId, string? userInput, string? requestId,
        PromptSettings? settings, CancellationToken cancellationToken = default) =>
        SendStreamCoreAsync(instanceId, userInput, RequestIdOrNew(requestId), CheckOverrides(settings), null, cancellationToken);

    private async Task<StreamedMessage> SendStreamCoreAsync(string instanceId, string? userInput, string requestId,
        PromptSettings? settings, IReadOnlyList<Attachments.MessagePart>? parts, CancellationToken cancellationToken)
    {
        var deadline = Deadline();
        using var span = Span("promptactors.execute_message", instanceId);
        var trace = PromptActorsTelemetry.CurrentTraceParent();
        var (reply, id) = await AskOwnAsync<object>(instanceId, entity => new ExecuteMessage(entity, userInput, requestId, _caller,
            Subscribe: true, KeyId: _keyId, Deadline: deadline, Settings: settings, TraceParent: trace, Parts: parts), cancellationToken);
        MessageAccepted Own(MessageAccepted accepted) => accepted with { InstanceId = Outward(accepted.InstanceId) };
        switch (reply)
        {
            case Rejected rejected:
                throw Outward(rejected, id).ToException();
            case LocalAcceptedStream local:
                return new StreamedMessage(Own(local.Accepted), Read(id, local.Stream, cancellationToken));
            case AcceptedStreamOffer remote:
                return new StreamedMessage(Own(remote.Accepted), Read(id, remote.Offer, cancellationToken));
            case MessageAccepted repeat:
                // A repeat of a request whose task is no longer the latest: its stream is resumed by task id.
                return new StreamedMessage(Own(repeat), await OpenStreamAsync(Outward(id), 0, repeat.TaskId, cancellationToken));
            default:
                throw new InvalidOperationException($"unexpected reply {reply.GetType().Name} to a streamed message");
        }
    }

    /// <summary>A stream opened on first read (the async-iterator form of the API).</summary>
    /// <summary>
    /// A stream opened on its first read. After the open, reads go straight to the opened stream's enumerator (no second
    /// async iterator per event: with ten subscribers per task that layer cost a tenth of the fan-out's throughput).
    /// </summary>
    private static IAsyncEnumerable<ReplyEvent> Deferred(Func<Task<IAsyncEnumerable<ReplyEvent>>> open) => new DeferredStream(open);

    private sealed class DeferredStream(Func<Task<IAsyncEnumerable<ReplyEvent>>> open) : IAsyncEnumerable<ReplyEvent>
    {
        public IAsyncEnumerator<ReplyEvent> GetAsyncEnumerator(CancellationToken cancellationToken = default) =>
            new Enumerator(open, cancellationToken);

        private sealed class Enumerator(Func<Task<IAsyncEnumerable<ReplyEvent>>> open, CancellationToken cancellationToken)
            : IAsyncEnumerator<ReplyEvent>
        {
            private IAsyncEnumerator<ReplyEvent>? _inner;

            public ReplyEvent Current => _inner is { } inner ? inner.Current : throw new InvalidOperationException("not started");

            public ValueTask<bool> MoveNextAsync() => _inner is { } inner ? inner.MoveNextAsync() : OpenAndMoveAsync();

            private async ValueTask<bool> OpenAndMoveAsync()
            {
                _inner = (await open()).GetAsyncEnumerator(cancellationToken);
                return await _inner.MoveNextAsync();
            }

            public ValueTask DisposeAsync() => _inner?.DisposeAsync() ?? ValueTask.CompletedTask;
        }
    }

    /// <summary>Reads a stream an instance handed out: in place on this node, through its stream ref from another node.</summary>
    private IAsyncEnumerable<ReplyEvent> Read(string instanceId, object reply, CancellationToken cancellationToken) => reply switch
    {
        LocalReplyStream local => ReadLocalAsync(local, cancellationToken),
        ReplyStreamOffer offer => ReadRemoteAsync(instanceId, offer, cancellationToken),
        _ => throw new InvalidOperationException($"unexpected reply {reply.GetType().Name} to a stream subscription"),
    };

    private async IAsyncEnumerable<ReplyEvent> ReadRemoteAsync(string instanceId, ReplyStreamOffer offer,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var taskId = offer.TaskId ?? "";
        // A stream ref does not notice on its own that the node at its other end crashed (it would wait forever): when the
        // instance lives on another node, the stream also ends once the cluster has downed or removed that node.
        var nodeGone = _node.Nodes.WhenGone(offer.Node);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var events = offer.Stream.Source.RunAsAsyncEnumerable(_node.Materializer).GetAsyncEnumerator(stop.Token);
        try
        {
            while (true)
            {
                ReplyEvent? e = null;
                try
                {
                    var next = events.MoveNextAsync();
                    bool more;
                    if (next.IsCompleted || nodeGone is null)
                        more = await next;
                    else
                    {
                        var pending = next.AsTask();
                        if (await Task.WhenAny(pending, nodeGone) == pending)
                            more = await pending;
                        else
                        {
                            stop.Cancel();
                            _ = pending.ContinueWith(t => t.Exception, TaskScheduler.Default); // observed, never awaited
                            e = ReplyFailed.Interrupted(taskId,
                                $"the node hosting instance '{instanceId}' ({offer.Node}) left the cluster before the task ended; " +
                                "the task is marked interrupted when the instance recovers on another node");
                            more = true;
                        }
                    }
                    if (!more)
                        yield break;
                    e ??= events.Current;
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // The node holding the instance went away (or the stream broke): say so instead of hanging.
                    e = ReplyFailed.Interrupted(taskId, "the reply stream ended before the task did: " + ex.Message);
                }
                taskId = e.TaskId;
                yield return e;
                if (e is ReplyCompleted or ReplyFailed)
                    yield break;
            }
        }
        finally
        {
            try
            {
                await events.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None);
            }
            catch (Exception)
            {
                // the stream is torn down anyway; a failing or slow dispose must not hold the caller
            }
        }
    }

    /// <summary>Reads a same-node subscription; a dropped subscriber or a stopped instance ends with an error event.</summary>
    private static async IAsyncEnumerable<ReplyEvent> ReadLocalAsync(LocalReplyStream local,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var taskId = local.TaskId ?? "";
        var reader = local.Events.Reader;
        try
        {
            while (true)
            {
                ReplyEvent e;
                try
                {
                    if (!await reader.WaitToReadAsync(cancellationToken) || !reader.TryRead(out e!))
                        e = ReplyFailed.Interrupted(taskId, "the reply stream ended before the task did");
                }
                catch (Exception ex) when (ex.GetBaseException() is Streaming.SubscriberTooSlowException slow)
                {
                    e = ReplyFailed.TooSlow(slow.TaskId, slow.Message);
                }
                taskId = e.TaskId;
                yield return e;
                if (e is ReplyCompleted or ReplyFailed)
                    yield break;
            }
        }
        finally
        {
            local.Events.Writer.TryComplete(); // the instance drops this subscriber at its next write
        }
    }

    public async Task<ReplyEvent> WaitForReplyAsync(string instanceId, CancellationToken cancellationToken = default)
    {
        await foreach (var e in StreamAsync(instanceId, long.MaxValue, cancellationToken))
        {
            if (e is ReplyCompleted or ReplyFailed)
                return e;
        }
        throw new PromptActorsException(ErrorCodes.Interrupted, $"the reply stream of instance '{instanceId}' ended without an outcome");
    }
}
