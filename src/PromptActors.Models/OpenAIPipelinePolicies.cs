using System.ClientModel.Primitives;

namespace PromptActors.Models;

/// <summary>Adds a model's configured default headers to every request the OpenAI client sends.</summary>
internal sealed class DefaultHeadersPolicy(IReadOnlyDictionary<string, string> headers) : PipelinePolicy
{
    public override void Process(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
    {
        Apply(message);
        ProcessNext(message, pipeline, currentIndex);
    }

    public override ValueTask ProcessAsync(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
    {
        Apply(message);
        return ProcessNextAsync(message, pipeline, currentIndex);
    }

    private void Apply(PipelineMessage message)
    {
        foreach (var (name, value) in headers)
            message.Request.Headers.Set(name, value);
    }
}

/// <summary>For servers that need no key (Ollama, vLLM, llama.cpp, LM Studio): the OpenAI client insists on a credential,
/// so it gets a placeholder, and this policy, placed just before the transport, removes the Authorization header.</summary>
internal sealed class RemoveAuthorizationPolicy : PipelinePolicy
{
    public const string Placeholder = "no-key";

    public override void Process(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
    {
        message.Request.Headers.Remove("Authorization");
        ProcessNext(message, pipeline, currentIndex);
    }

    public override ValueTask ProcessAsync(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
    {
        message.Request.Headers.Remove("Authorization");
        return ProcessNextAsync(message, pipeline, currentIndex);
    }
}
