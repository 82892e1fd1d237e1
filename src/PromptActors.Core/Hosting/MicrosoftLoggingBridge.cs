using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Dispatch;
using Akka.Event;
using Microsoft.Extensions.Logging;
using PromptActors.Runs;
using AkkaLogLevel = Akka.Event.LogLevel;
using MelLogLevel = Microsoft.Extensions.Logging.LogLevel;

namespace PromptActors.Hosting;

/// <summary>The logger factory (and storm guard) the <see cref="MicrosoftLoggingBridge"/> of one actor system writes to.</summary>
public sealed class MicrosoftLoggingSetup(ILoggerFactory factory, TimeProvider? time = null) : Setup
{
    public ILoggerFactory Factory { get; } = factory;

    public LogStormGuard Guard { get; } = new(time ?? TimeProvider.System);

    /// <summary>
    /// The Akka log level that lets through every event some category may want: the lowest level enabled for the
    /// categories <c>Akka</c> and <c>PromptActors</c>, or named in <paramref name="levels"/> (the values of the
    /// <c>Logging:LogLevel</c> section, so a level set for one class, e.g. <c>PromptActors.Runs.TaskSweeper</c>, is
    /// published at all). Microsoft.Extensions.Logging then filters by each event's own category.
    /// </summary>
    public AkkaLogLevel AkkaLevel(IEnumerable<string?>? levels = null)
    {
        var lowest = MelLogLevel.None;
        foreach (var category in new[] { "Akka", "PromptActors" })
        {
            var logger = Factory.CreateLogger(category);
            foreach (var level in new[] { MelLogLevel.Debug, MelLogLevel.Information, MelLogLevel.Warning, MelLogLevel.Error })
                if (level < lowest && logger.IsEnabled(level))
                    lowest = level;
        }
        foreach (var text in levels ?? [])
            if (Enum.TryParse<MelLogLevel>(text, ignoreCase: true, out var level) && level < lowest)
                lowest = level;
        return lowest switch
        {
            <= MelLogLevel.Debug => AkkaLogLevel.DebugLevel,
            MelLogLevel.Information => AkkaLogLevel.InfoLevel,
            MelLogLevel.Warning => AkkaLogLevel.WarningLevel,
            _ => AkkaLogLevel.ErrorLevel,
        };
    }
}

/// <summary>
/// Akka's logger actor for hosts on Microsoft.Extensions.Logging: each event is written under the category of the class
/// that logged it (<c>PromptActors.Runs.TaskSweeper</c>, <c>Akka.Cluster.ClusterCoreDaemon</c>, …), so
/// per-category levels in <c>Logging:LogLevel</c> apply to actors too. Akka.Hosting's own bridge writes everything
/// under <c>Akka.Actor.ActorSystem</c>. Storms of alike warnings and errors are thinned by the setup's <see cref="LogStormGuard"/>.
/// Registered by <see cref="PromptActorsHostingExtensions.WithPromptActors"/>; needs a <see cref="MicrosoftLoggingSetup"/>.
/// </summary>
public sealed class MicrosoftLoggingBridge : ActorBase, IRequiresMessageQueue<ILoggerMessageQueueSemantics>
{
    private const string FallbackCategory = "Akka.Actor.ActorSystem";
    private readonly MicrosoftLoggingSetup _setup;
    private readonly Dictionary<Type, ILogger> _byClass = new();
    private ILogger? _fallback;

    public MicrosoftLoggingBridge()
    {
        _setup = Context.System.Settings.Setup.Get<MicrosoftLoggingSetup>().Value
                 ?? throw new InvalidOperationException("MicrosoftLoggingBridge needs a MicrosoftLoggingSetup in the actor system's setup");
    }

    protected override bool Receive(object message)
    {
        switch (message)
        {
            case InitializeLogger:
                Sender.Tell(new LoggerInitialized());
                return true;
            case LogEvent e:
                Write(e);
                return true;
            default:
                return false;
        }
    }

    private void Write(LogEvent e)
    {
        var level = e.LogLevel() switch
        {
            AkkaLogLevel.DebugLevel => MelLogLevel.Debug,
            AkkaLogLevel.InfoLevel => MelLogLevel.Information,
            AkkaLogLevel.WarningLevel => MelLogLevel.Warning,
            _ => MelLogLevel.Error,
        };
        var (category, logger) = LoggerFor(e);
        if (!logger.IsEnabled(level))
            return;
        // Debug and information entries were asked for; only warnings and errors are thinned.
        var verdict = level >= MelLogLevel.Warning
            ? _setup.Guard.Admit(category, (int)level, e.Cause, e.Message is LogMessage m ? m.Format : Truncate(e.Message?.ToString()))
            : new LogStormGuard.Verdict(true, true, 0);
        if (!verdict.Write)
            return;
        string text;
        try
        {
            text = e.Message?.ToString() ?? "";
        }
        catch (FormatException)
        {
            text = e.Message is LogMessage bad ? bad.Format : "";
        }
        if (verdict.SuppressedBefore > 0)
            text += $" ({verdict.SuppressedBefore} alike entries were suppressed before this one)";
        Exception? exception = null;
        if (e.Cause is { } cause)
        {
            if (verdict.WithStackTrace)
                exception = cause;
            else
            {
                var root = cause.GetBaseException();
                text += $" [{root.GetType().Name}: {root.Message}; its stack trace is logged at most every {LogStormGuard.StackTraceEvery.TotalMinutes:0} min]";
            }
        }
        logger.Log(level, default, new BridgedEntry(e.LogSource, text), exception, static (s, _) => s.ToString());
    }

    private (string Category, ILogger Logger) LoggerFor(LogEvent e)
    {
        if (e.LogClass is { } type && type != typeof(object))
        {
            if (!_byClass.TryGetValue(type, out var byType))
                _byClass[type] = byType = _setup.Factory.CreateLogger(CategoryOf(type));
            return (CategoryOf(type), byType);
        }
        return (FallbackCategory, _fallback ??= _setup.Factory.CreateLogger(FallbackCategory));
    }

    private static string? Truncate(string? text) => text is { Length: > 120 } ? text[..120] : text;

    private static string CategoryOf(Type type) => (type.FullName ?? type.Name).Replace('+', '.');

    /// <summary>The log state: the message, and the actor path or class it came from as a structured field.</summary>
    private sealed class BridgedEntry(string source, string message) : IReadOnlyList<KeyValuePair<string, object?>>
    {
        public KeyValuePair<string, object?> this[int index] => index switch
        {
            0 => new("AkkaSource", source),
            1 => new("Message", message),
            _ => throw new ArgumentOutOfRangeException(nameof(index)),
        };

        public int Count => 2;

        public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
        {
            yield return this[0];
            yield return this[1];
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

        public override string ToString() => $"[{source}] {message}";
    }
}
