using System.Text.Json;
using System.Text.Json.Serialization;
using PromptActors.Instances;
using PromptActors.Prompts;
using PromptActors.Runs;
using PromptActors.Variables;

namespace PromptActors.Host.Api;

// Request bodies refuse unknown fields: a misspelt "variabels" must not silently start an instance without variables.

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record PromptMessageBody(string? Role, string? Content);

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record VariableDefaultBody(string? Name, string? DefaultValue, bool Required = false);

/// <summary>PUT /v1/prompts/{id}</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record PromptBody(
    string? Id,
    string? Name,
    string? Description,
    IReadOnlyList<PromptMessageBody>? Messages,
    IReadOnlyList<VariableDefaultBody>? VariableDefaults,
    PromptSettingsBody? Settings,
    string? MissingVariables)
{
    public PromptDefinition ToDefinition(string id, List<string> errors)
    {
        if (Id is not null && Id != id)
            errors.Add($"body id '{Id}' differs from the id in the URL '{id}'");
        var messages = new List<PromptMessage>();
        foreach (var (m, i) in (Messages ?? []).Select((m, i) => (m, i)))
        {
            if (m is null || !TryRole(m.Role, out var role))
                errors.Add($"messages[{i}].role must be system, user or assistant");
            else
                messages.Add(new PromptMessage(role, m.Content!));
        }
        // Exact names only: Enum.TryParse would also take "1" or "keep,empty".
        MissingVariablePolicy? parsed = MissingVariables?.ToLowerInvariant() switch
        {
            null or "error" => MissingVariablePolicy.Error,
            "keep" => MissingVariablePolicy.Keep,
            "empty" => MissingVariablePolicy.Empty,
            _ => null,
        };
        if (parsed is null)
            errors.Add("missingVariables must be error, keep or empty");
        var policy = parsed ?? MissingVariablePolicy.Error;
        return new PromptDefinition(id, Name!, messages, Description,
            VariableDefaults?.Select(d => new VariableDefault(d?.Name!, d?.DefaultValue, d?.Required ?? false)).ToArray(),
            Settings?.ToSettings(errors),
            policy);
    }

    private static bool TryRole(string? role, out MessageRole value)
    {
        value = default;
        return role is "system" or "user" or "assistant" && Enum.TryParse(role, ignoreCase: true, out value);
    }
}

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record ScopeBody(string? UserId, string? OrgId, string? ProjectId);

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record ExecutionConfigBody(bool? AutoRun, bool? AllowChat, bool? ShowVariables, bool? ApplyVariables, bool? TrackInRuns)
{
    public ExecutionConfig ToConfig()
    {
        var d = ExecutionConfig.Default;
        return new ExecutionConfig(AutoRun ?? d.AutoRun, AllowChat ?? d.AllowChat, ShowVariables ?? d.ShowVariables,
            ApplyVariables ?? d.ApplyVariables, TrackInRuns ?? d.TrackInRuns);
    }
}

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record SourceBody(string? Type, string? Id);

/// <summary>POST /v1/instances</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record StartInstanceBody(
    string? PromptId,
    int? PromptVersion,
    ScopeBody? Scope,
    Dictionary<string, string>? Variables,
    ExecutionConfigBody? ExecutionConfig,
    SourceBody? Source,
    string? RunName,
    bool Retain = false,
    string? InstanceId = null,
    IReadOnlyList<ClientToolBody>? ClientTools = null);

/// <summary>POST /v1/instances/{id}/messages; <see cref="Settings"/> are this turn's own (see SettingsOverrides.Allowed).</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record MessageBody(string? UserInput, PromptSettingsBody? Settings = null, IReadOnlyList<PartBody?>? Parts = null);

/// <summary>
/// One part of a message: <c>{"type":"text","text":…}</c>, <c>{"type":"image","url":…}</c>,
/// <c>{"type":"image","data":base64,"mediaType":…}</c>, <c>{"type":"file","data":base64,"mediaType":…,"name":…}</c>,
/// <c>{"type":"note","text":…}</c>, <c>{"type":"webpage","text":…,"sourceUrl":…}</c>.
/// </summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
public sealed record PartBody(string? Type, string? Text = null, string? Url = null, string? Data = null, string? MediaType = null,
    string? Name = null, string? SourceUrl = null)
{
    /// <summary>The parts as the engine takes them (base64 decoded); null and <paramref name="error"/> set when one is not valid.</summary>
    public static List<PromptActors.Attachments.PartInput>? ToInputs(IReadOnlyList<PartBody?> parts, out string? error)
    {
        var inputs = new List<PromptActors.Attachments.PartInput>(parts.Count);
        for (var i = 0; i < parts.Count; i++)
        {
            if (parts[i] is not { } p)
            {
                error = $"parts[{i}] is empty";
                return null;
            }
            byte[]? data = null;
            if (p.Data is not null)
            {
                var bytes = new byte[p.Data.Length * 3 / 4 + 3];
                if (!Convert.TryFromBase64String(p.Data, bytes, out var written))
                {
                    error = $"parts[{i}].data is not valid base64";
                    return null;
                }
                data = bytes.AsSpan(0, written).ToArray();
            }
            inputs.Add(new PromptActors.Attachments.PartInput(p.Type ?? "", p.Text, p.Url, data, p.MediaType, p.Name, p.SourceUrl));
        }
        error = null;
        return inputs;
    }
}

public sealed record PromptDto(
    string Id, int Version, string Name, string? Description,
    IReadOnlyList<object> Messages, IReadOnlyList<object> VariableDefaults, object Settings, string MissingVariables,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, object Owner)
{
    public static PromptDto From(Prompt p) => new(p.Id, p.Version, p.Name, p.Description,
        p.Messages.Select(m => (object)new { role = Role(m.Role), content = m.Content }).ToArray(),
        p.VariableDefaults.Select(d => (object)new { name = d.Name, defaultValue = d.DefaultValue, required = d.Required }).ToArray(),
        PromptSettingsBody.From(p.Settings),
        p.MissingVariables.ToString().ToLowerInvariant(), p.CreatedAt, p.UpdatedAt,
        p.OwnedBy.IsBuiltIn ? new { kind = "builtin" } : new { kind = p.OwnedBy.KindName, scopeId = (string?)p.OwnedBy.ScopeId });

    public static string Role(MessageRole role) => role.ToString().ToLowerInvariant();
}

public sealed record StatsDto(double? TimeToFirstToken, double TotalTime, long Tokens, long InputTokens, long OutputTokens, decimal Cost, bool UsageEstimated)
{
    public static StatsDto? From(ExecutionStats? s) => s is null ? null
        : new(s.TimeToFirstTokenMs, s.TotalTimeMs, s.TotalTokens, s.InputTokens, s.OutputTokens, s.Cost, s.UsageEstimated);
}

/// <summary>The instance as DESIGN §8 shows it, plus <c>node</c>: the address of the cluster node that hosts it.</summary>
/// <summary>The tool-call vocabulary of the API (snake_case, as in the SSE events).</summary>
public static class ToolDto
{
    public static string ToolStatus(ToolCallStatus status) => JsonNamingPolicy.SnakeCaseLower.ConvertName(status.ToString());

    /// <summary>The arguments as JSON (the text when it is not JSON: a model's malformed arguments are shown as sent).</summary>
    public static object ToolArguments(string arguments)
    {
        try
        {
            using var doc = JsonDocument.Parse(arguments);
            return doc.RootElement.Clone();
        }
        catch (JsonException)
        {
            return arguments;
        }
    }
}

public sealed record InstanceDto(
    string InstanceId, string PromptId, int PromptVersion, string Status, object Scope, object ExecutionConfig, bool Retain,
    object Conversation, object? Variables, object Execution, object RunTracking, string? StreamingText,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, string? Node)
{
    private static string ToolStatus(ToolCallStatus status) => ToolDto.ToolStatus(status);

    private static object ToolArguments(string arguments) => ToolDto.ToolArguments(arguments);

    /// <summary>A conversation message; an assistant's tool calls and a tool result carry their ids, names and arguments.</summary>
    public static object Message(ConversationMessage m) => new
    {
        role = PromptDto.Role(m.Role), content = m.Content, taskId = m.TaskId, timestamp = m.Timestamp,
        toolCalls = m.ToolCalls?.Select(c => new { callId = c.CallId, name = c.Name, arguments = ToolArguments(c.Arguments) }),
        toolCallId = m.ToolCallId, toolName = m.ToolName,
        parts = m.Parts?.Select(Part),
    };

    /// <summary>A message part as shown: a stored one by its hash (its bytes at <c>/v1/attachments/{sha256}</c>), never the bytes.</summary>
    public static object Part(PromptActors.Attachments.MessagePart p) => new
    {
        type = p.Type, text = p.Text, url = p.Url, sha256 = p.Sha256, mediaType = p.MediaType, size = p.Size, name = p.Name,
        sourceUrl = p.SourceUrl,
    };

    public static InstanceDto From(InstanceView v) => new(
        v.InstanceId, v.PromptId, v.PromptVersion, JsonNamingPolicy.SnakeCaseLower.ConvertName(v.Status.ToString()),
        new { userId = v.Scope.UserId, orgId = v.Scope.OrgId, projectId = v.Scope.ProjectId },
        v.ExecutionConfig, v.Retain,
        new { messages = v.Conversation.Select(Message) },
        v.Variables is null ? null : new
        {
            merged = v.Variables.Merged,
            provenance = v.Variables.Provenance.ToDictionary(kv => kv.Key, kv => Provenance(kv.Value)),
            userValues = v.Variables.UserValues,
        },
        new
        {
            currentTaskId = v.Execution.CurrentTaskId,
            lastTaskId = v.Execution.LastTaskId,
            lastMessageStats = StatsDto.From(v.Execution.LastMessageStats),
            lastError = v.Execution.LastError is { } e ? new { taskId = e.TaskId, code = e.Code, detail = e.Detail } : null,
            lastOutput = v.Execution.LastOutput,
            pendingToolCalls = v.Execution.PendingToolCalls?.Select(c => new
            {
                callId = c.CallId, name = c.Name, arguments = ToolArguments(c.Arguments), status = ToolStatus(c.Status),
            }),
        },
        new
        {
            runId = v.RunTracking.RunId, sourceType = v.RunTracking.SourceType, sourceId = v.RunTracking.SourceId,
            runName = v.RunTracking.RunName, totalTokens = v.RunTracking.TotalTokens, totalCost = v.RunTracking.TotalCost,
            taskCount = v.RunTracking.TaskCount, synced = v.RunTracking.Synced,
        },
        v.StreamingText, v.CreatedAt, v.UpdatedAt, v.Node);

    public static string Provenance(VariableSource source) => source switch
    {
        VariableSource.PromptDefault => "default",
        VariableSource.UserScope => "userScope",
        VariableSource.OrgScope => "orgScope",
        VariableSource.ProjectScope => "projectScope",
        VariableSource.UserProvided => "user",
        _ => "computed",
    };
}

public static class RunDto
{
    public static object From(RunRecord r, bool withTasks) => new
    {
        runId = r.Info.RunId,
        userId = r.Info.UserId,
        orgId = r.Info.OrgId,
        projectId = r.Info.ProjectId,
        sourceType = r.Info.SourceType,
        sourceId = r.Info.SourceId,
        name = r.Info.Name,
        promptId = r.Info.PromptId,
        promptVersion = r.Info.PromptVersion,
        status = r.Status,
        totalTokens = r.TotalTokens,
        totalCost = r.TotalCost,
        messageCount = r.MessageCount,
        taskCount = r.TaskCount,
        createdAt = r.CreatedAt,
        updatedAt = r.UpdatedAt,
        lastMessageAt = r.LastMessageAt,
        messages = withTasks ? r.Messages.Select(m => new { role = m.Role, content = m.Content, taskId = m.TaskId, timestamp = m.Timestamp }) : null,
        tasks = withTasks ? r.Tasks.Select(t => new
        {
            taskId = t.TaskId,
            status = t.Status.ToString().ToLowerInvariant(),
            provider = t.Provider,
            model = t.Model,
            userMessage = t.UserMessage,
            parts = t.Parts?.Select(InstanceDto.Part),
            responseText = t.ResponseText,
            // A completed reply under a JSON response format is that JSON (checked when it completed), parsed.
            output = t.Status == RunTaskStatus.Completed && t.ResponseText is { } text
                ? StructuredOutput.Parse(text, r.Info.Settings.ResponseFormat) : null,
            error = t.ErrorCode is null ? null : new { code = t.ErrorCode, detail = t.ErrorDetail },
            // The task's tool calls, from ai_tool_calls: what ran, with what, how it ended and who decided it.
            toolCalls = t.ToolCalls?.Select(c => new
            {
                callId = c.CallId, tool = c.Tool, arguments = ToolDto.ToolArguments(c.Arguments), status = c.Status, result = c.Result,
                step = c.Step, policy = c.Policy, decision = c.Decision, decidedBy = c.DecidedBy, reason = c.Reason,
                requestedAt = c.RequestedAt, startedAt = c.StartedAt, completedAt = c.CompletedAt, durationMs = c.DurationMs,
            }),
            // A turn of several model calls (tools): each call with its own figures (one ai_tasks row each); the task's
            // figures are their sums.
            modelCalls = t.ModelCalls?.Select(c => new
            {
                step = c.Step, status = c.Status.ToString().ToLowerInvariant(), provider = c.Provider, model = c.Model,
                tokensInput = c.TokensInput, tokensOutput = c.TokensOutput, tokensTotal = c.TokensTotal, cost = c.Cost,
                timeToFirstToken = c.TimeToFirstTokenMs, totalTime = c.TotalTimeMs, startedAt = c.StartedAt, completedAt = c.CompletedAt,
            }),
            tokensInput = t.TokensInput,
            tokensOutput = t.TokensOutput,
            tokensTotal = t.TokensTotal,
            cost = t.Cost,
            timeToFirstToken = t.TimeToFirstTokenMs,
            totalTime = t.TotalTimeMs,
            createdAt = t.CreatedAt,
            completedAt = t.CompletedAt,
            keyId = t.KeyId,
            // What the task ran with: the run's settings, with the message's own on top.
            settings = PromptSettingsBody.From(SettingsOverrides.Apply(r.Info.Settings, t.Settings)),
            messageSettings = t.Settings is null ? null : PromptSettingsBody.From(t.Settings),
        }) : null,
    };
}
