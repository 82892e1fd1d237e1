using Akka.Actor;
using Akka.Streams;
using PromptActors.Models;
using PromptActors.Runs;

namespace PromptActors.Instances;

/// <summary>What every instance on a node shares.</summary>
public sealed record InstanceDependencies(
    IActorRef PromptCache,
    IActorRef ScopedVariables,
    IActorRef Reaper,
    IModelRegistry Models,
    IRunStore RunStore,
    TimeProvider Time,
    InstanceSettings Settings,
    IMaterializer Materializer,
    Prompts.IJsonSchemaValidator? Schemas = null,
    Tools.IToolRegistry? Tools = null,
    Attachments.IAttachmentStore? Attachments = null,
    Variables.ScopedVariablesView? PublishedVariables = null,
    InstanceDirectory? Directory = null);
