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

/// <summary>Reply subscriptions: the running task live, a replay of the last one, or the next one.</summary>
public sealed partial class ExecutionInstanceActor
{
    private void OnSubscribe(SubscribeReplyStream cmd)
    {
        Handling(cmd);
        if (Carry(cmd) is not Decision.Proceed)
            return;
        // Resuming another task's stream: the index belongs to that task, so this one is sent from its start.
        var latest = _state.Current?.TaskId ?? _state.LastTask?.TaskId;
        var from = cmd.ResumeTaskId is { } resumed && resumed != latest
            ? 0
            : (int)Math.Clamp(cmd.FromIndex, 0, int.MaxValue);
        OfferStream(Sender, from, accepted: null);
    }

    /// <summary>
    /// Subscribes <paramref name="replyTo"/> to the running task (from chunk <paramref name="from"/>), else to a replay of
    /// the last task, else to the next task, and sends it the stream: readable in place on this node, a stream ref across
    /// nodes. With <paramref name="accepted"/> the stream answers an <see cref="ExecuteMessage"/> that asked for it.
    /// </summary>
    private void OfferStream(IActorRef replyTo, int from, MessageAccepted? accepted)
    {
        var fanOut = _fanOut ??= new ReplyFanOut(_deps.Materializer, _settings.SubscriberBuffer, Self);
        IReadOnlyList<ReplyEvent> prefix;
        SubscriptionMode mode;
        string? taskId;
        if (_state.Current is { } current)
        {
            taskId = current.TaskId;
            (prefix, mode) = (_call?.TaskId == current.TaskId
                ? Chunks(current.TaskId, _turnEvents, _call.Chunks, _call.FirstIndex, from)
                : Chunks(current.TaskId, _turnEvents, [], 0, from), SubscriptionMode.Live);
        }
        else if (_state.LastTask is { } last)
        {
            taskId = last.TaskId;
            var replay = _lastChunks is { } kept && kept.TaskId == last.TaskId
                ? Chunks(last.TaskId, kept.Earlier, kept.Chunks, kept.FirstIndex, from)
                // After a restart the chunk boundaries are gone; the text is replayed as one chunk.
                : from == 0 && last.Text.Length > 0 ? [new ReplyChunk(last.TaskId, 0, last.Text)] : [];
            (prefix, mode) = ([.. replay, Terminal(last)], SubscriptionMode.Replay);
        }
        else
        {
            taskId = null;
            (prefix, mode) = ([], SubscriptionMode.NextTask);
        }
        if (replyTo.Path.Address.HasLocalScope)
        {
            var local = new LocalReplyStream(_instanceId, taskId, fanOut.SubscribeLocal(prefix, mode));
            replyTo.Tell(accepted is null ? local : new LocalAcceptedStream(accepted, local));
            return;
        }
        var stream = fanOut.Subscribe(prefix, mode);
        var instanceId = _instanceId;
        var node = Node;
        stream.PipeTo(replyTo,
            success: sourceRef => accepted is null
                ? new ReplyStreamOffer(instanceId, taskId, sourceRef, node)
                : new AcceptedStreamOffer(accepted, new ReplyStreamOffer(instanceId, taskId, sourceRef, node)),
            failure: e => new Rejected(ErrorCodes.StoreUnavailable, "the reply stream could not be opened: " + e.GetBaseException().Message));
    }

    /// <summary>
    /// The task's events from index <paramref name="from"/>: those of its earlier steps (chunks, tool calls and results), then
    /// the chunks of its model call, whose first has index <paramref name="firstIndex"/>.
    /// </summary>
    private static List<ReplyEvent> Chunks(string taskId, List<ReplyEvent>? earlier, List<string> chunks, int firstIndex, int from)
    {
        var skip = Math.Max(0, from - firstIndex);
        var events = new List<ReplyEvent>(Math.Max(0, chunks.Count - skip) + (earlier?.Count ?? 0));
        if (earlier is not null)
        {
            foreach (var e in earlier)
            {
                if (IndexOf(e) >= from)
                    events.Add(e);
            }
        }
        for (var i = skip; i < chunks.Count; i++)
            events.Add(new ReplyChunk(taskId, firstIndex + i, chunks[i]));
        return events;
    }
}
