using System.Threading.Channels;
using Akka;
using Akka.Actor;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.Util;
using PromptActors.Instances;

namespace PromptActors.Streaming;

/// <summary>A subscriber could not keep up: its bounded buffer was full, so it was dropped.</summary>
public sealed class SubscriberTooSlowException(string taskId, int buffer)
    : Exception($"the subscriber fell more than {buffer} events behind and was dropped; resume with the last index it received")
{
    public string TaskId { get; } = taskId;
}

/// <summary>Tells the owning instance that a subscriber's stream ended (read to the end, cancelled or dropped).</summary>
internal sealed record ReplyStreamEnded(int Id) : INoSerializationVerificationNeeded;

/// <summary>
/// The fan-out of one instance's reply. Every subscriber gets its own stream: first the chunks it missed (from the index it
/// asked for), then live events through a bounded channel, then one terminal event, handed out as a
/// <see cref="ISourceRef{T}"/> so it can be read on any node. The instance writes each event once per subscriber from its
/// own thread, so a late joiner neither misses nor repeats a chunk (a BroadcastHub attaches consumers asynchronously and
/// can lose the chunks emitted meanwhile). A subscriber whose buffer is full is dropped with a terminal
/// <c>subscriber_too_slow</c> error; the task and the other subscribers go on, and memory stays bounded.
/// </summary>
internal sealed class ReplyFanOut(IMaterializer materializer, int bufferSize, IActorRef owner)
{
    private readonly Dictionary<int, Subscriber> _live = new();
    private readonly Dictionary<int, Subscriber> _waiting = new();
    private int _nextId;

    // A remote subscriber's end is reported by ReplyStreamEnded; a local reader completes its channel when it stops,
    // which LocalDone shows once the channel is empty (a waiting subscriber's channel is).
    private sealed record Subscriber(ChannelWriter<ReplyEvent> Writer, Task? LocalDone = null)
    {
        public bool Gone => LocalDone is { IsCompleted: true };
    }

    public int Count
    {
        get
        {
            PruneGone();
            return _live.Count + _waiting.Count;
        }
    }

    /// <summary>Forgets local readers that stopped; without a write to fail they would otherwise stay forever.</summary>
    private void PruneGone()
    {
        foreach (var map in new[] { _live, _waiting })
        {
            List<int>? gone = null;
            foreach (var (id, sub) in map)
            {
                if (sub.Gone)
                    (gone ??= new List<int>()).Add(id);
            }
            foreach (var id in gone ?? [])
                map.Remove(id);
        }
    }

    /// <summary>
    /// A stream of <paramref name="prefix"/>, then (when <paramref name="mode"/> is not <see cref="SubscriptionMode.Replay"/>)
    /// the live events of the running task or of the next task to start.
    /// </summary>
    public Task<ISourceRef<ReplyEvent>> Subscribe(IReadOnlyList<ReplyEvent> prefix, SubscriptionMode mode)
    {
        var id = ++_nextId;
        var self = owner;
        var live = Source.Channel<ReplyEvent>(bufferSize, singleWriter: true, BoundedChannelFullMode.Wait);
        var (writer, sourceRef) = Source.From(prefix)
            .ConcatMaterialized(live, Keep.Right)
            .Recover(e => e.GetBaseException() is SubscriberTooSlowException slow
                ? Option<ReplyEvent>.Create(ReplyFailed.TooSlow(slow.TaskId, slow.Message))
                : Option<ReplyEvent>.None)
            .WatchTermination((w, done) =>
            {
                done.ContinueWith(_ => self.Tell(new ReplyStreamEnded(id)), TaskContinuationOptions.ExecuteSynchronously);
                return w;
            })
            .ToMaterialized(StreamRefs.SourceRef<ReplyEvent>(), Keep.Both)
            .Run(materializer);

        switch (mode)
        {
            case SubscriptionMode.Replay:
                writer.TryComplete();
                break;
            case SubscriptionMode.Live:
                _live[id] = new Subscriber(writer);
                break;
            default:
                _waiting[id] = new Subscriber(writer);
                break;
        }
        return sourceRef;
    }

    /// <summary>
    /// The same stream for a caller on this node, without Akka.Streams: the events go straight into a bounded channel the
    /// caller reads (a StreamRef per local subscription cost most of the instance's CPU and kept memory alive).
    /// </summary>
    public Channel<ReplyEvent> SubscribeLocal(IReadOnlyList<ReplyEvent> prefix, SubscriptionMode mode)
    {
        var channel = Channel.CreateBounded<ReplyEvent>(new BoundedChannelOptions(bufferSize + prefix.Count)
        {
            SingleWriter = true,
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        foreach (var e in prefix)
            channel.Writer.TryWrite(e);
        PruneGone(); // so readers that subscribe and leave again and again do not pile up
        var id = ++_nextId;
        switch (mode)
        {
            case SubscriptionMode.Replay:
                channel.Writer.TryComplete();
                break;
            case SubscriptionMode.Live:
                _live[id] = new Subscriber(channel.Writer, channel.Reader.Completion);
                break;
            default:
                _waiting[id] = new Subscriber(channel.Writer, channel.Reader.Completion);
                break;
        }
        return channel;
    }

    /// <summary>A task started: subscribers waiting for the next task now receive it.</summary>
    public void TaskStarted()
    {
        foreach (var (id, sub) in _waiting)
            _live[id] = sub;
        _waiting.Clear();
    }

    /// <summary>A chunk, tool call or tool result of the running task to every live stream.</summary>
    public void Publish(ReplyEvent chunk)
    {
        List<int>? dropped = null;
        foreach (var (id, sub) in _live)
        {
            if (sub.Writer.TryWrite(chunk))
                continue;
            sub.Writer.TryComplete(new SubscriberTooSlowException(chunk.TaskId, bufferSize));
            (dropped ??= new List<int>()).Add(id);
        }
        if (dropped is not null)
        {
            foreach (var id in dropped)
                _live.Remove(id);
        }
    }

    /// <summary>Ends every live stream with <paramref name="terminal"/>.</summary>
    public void Complete(ReplyEvent terminal)
    {
        foreach (var sub in _live.Values)
        {
            if (sub.Writer.TryWrite(terminal))
                sub.Writer.TryComplete();
            else
                sub.Writer.TryComplete(new SubscriberTooSlowException(terminal.TaskId, bufferSize));
        }
        _live.Clear();
    }

    /// <summary>The instance is stopping: every stream, live or waiting, ends with <paramref name="interrupted"/>.</summary>
    public void Interrupt(ReplyFailed interrupted)
    {
        Complete(interrupted);
        foreach (var sub in _waiting.Values)
        {
            sub.Writer.TryWrite(interrupted);
            sub.Writer.TryComplete();
        }
        _waiting.Clear();
    }

    public void Ended(int id)
    {
        _live.Remove(id);
        _waiting.Remove(id);
    }
}

internal enum SubscriptionMode
{
    /// <summary>The finished task: the prefix holds everything, including the terminal event.</summary>
    Replay,

    /// <summary>The running task.</summary>
    Live,

    /// <summary>No task yet: the stream starts with the next one.</summary>
    NextTask,
}
