using Microsoft.Extensions.AI;
using PromptActors.Models;

namespace PromptActors.Tests.Models;

/// <summary>The local model's documented tool rule (<see cref="LocalTools"/>).</summary>
public sealed class LocalToolsTests
{
    private static readonly AIFunction Lookup = AIFunctionFactory.Create((string orderId) => orderId, "lookup_order");
    private static readonly AIFunction Refund = AIFunctionFactory.Create((string orderId) => orderId, "refund_order");

    private static ChatOptions Offered(ChatToolMode? mode = null, bool? parallel = null) =>
        new() { Tools = [Lookup.AsDeclarationOnly(), Refund.AsDeclarationOnly()], ToolMode = mode, AllowMultipleToolCalls = parallel };

    [Fact]
    public async Task Named_tools_with_json_arguments_are_called_in_the_order_they_appear()
    {
        ChatMessage[] chat = [new(ChatRole.User, """refund_order {"orderId":"B"} after lookup_order {"orderId":"A"}; not lookup_orders {"x":1}""")];

        var updates = await new LocalChatClient().GetStreamingResponseAsync(chat, Offered()).ToListAsync();

        var calls = updates.SelectMany(u => u.Contents).OfType<FunctionCallContent>().ToList();
        Assert.Equal([("call_1", "refund_order"), ("call_2", "lookup_order")], calls.Select(c => (c.CallId, c.Name)));
        Assert.Equal("B", calls[0].Arguments!["orderId"]!.ToString());
        Assert.Equal(ChatFinishReason.ToolCalls, updates[^1].FinishReason);
        Assert.DoesNotContain(updates, u => u.Text.Length > 0);
        // Parallel calls off: the first only. Tool mode none, or no tools: plain text.
        Assert.Single(LocalTools.Calls(chat, Offered(parallel: false)));
        Assert.Empty(LocalTools.Calls(chat, Offered(ChatToolMode.None)));
        Assert.Empty(LocalTools.Calls(chat, new ChatOptions()));
    }

    [Fact]
    public void Text_after_a_name_that_is_not_json_is_sent_as_arguments_that_cannot_be_parsed()
    {
        var call = Assert.Single(LocalTools.Calls([new ChatMessage(ChatRole.User, "lookup_order {orderId: A}")], Offered()));
        Assert.NotNull(call.Exception);
    }

    [Fact]
    public void After_tool_results_it_answers_with_them_and_a_required_tool_is_called_again()
    {
        ChatMessage[] chat =
        [
            new(ChatRole.User, """lookup_order {"orderId":"A"}"""),
            new(ChatRole.Assistant, [new FunctionCallContent("call_1", "lookup_order", new Dictionary<string, object?> { ["orderId"] = "A" })]),
            new(ChatRole.Tool, [new FunctionResultContent("call_1", "shipped")]),
        ];

        Assert.Empty(LocalTools.Calls(chat, Offered()));
        Assert.Equal("lookup_order returned shipped", new LocalChatClient().ReplyFor(chat, Offered()));
        var again = Assert.Single(LocalTools.Calls(chat, Offered(ChatToolMode.RequireAny)));
        Assert.Equal(("call_2", "lookup_order", "A"), (again.CallId, again.Name, again.Arguments!["orderId"]!.ToString()));
        Assert.Equal("refund_order", Assert.Single(LocalTools.Calls([new ChatMessage(ChatRole.User, "go")],
            Offered(ChatToolMode.RequireSpecific("refund_order")))).Name);
    }
}
