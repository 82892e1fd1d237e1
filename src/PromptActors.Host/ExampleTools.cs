using System.ComponentModel;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.AI;
using PromptActors.Tools;

namespace PromptActors.Host;

/// <summary>
/// The two example tools the host registers (<c>PromptActors:Examples:Tools</c>, on by default) for the
/// <c>order-support</c> example prompt: <c>lookup_order</c>, idempotent (made again after a crash), and
/// <c>refund_order</c>, which a person must approve and which is never made twice. Both are deterministic and touch nothing
/// outside the process; a real refund tool would pass the call's idempotency key to the payment system.
/// </summary>
public static class ExampleTools
{
    public static void Register(ToolCollection tools)
    {
        tools.Add(AIFunctionFactory.Create(LookupOrder, "lookup_order", "Looks up an order's status by its id."), ToolPolicy.Idempotent);
        tools.Add(AIFunctionFactory.Create(RefundOrder, "refund_order", "Refunds an order (a person approves each refund first)."),
            ToolPolicy.AtMostOnce, requiresApproval: true);
    }

    private static object LookupOrder([Description("The order id, e.g. A-1001")] string orderId)
    {
        var n = Hash(orderId);
        string[] statuses = ["processing", "shipped", "delivered"];
        return new { orderId, status = statuses[n % 3], carrier = n % 2 == 0 ? "DHL" : "UPS", items = 1 + n % 4 };
    }

    private static object RefundOrder([Description("The order id")] string orderId, AIFunctionArguments arguments,
        [Description("Why the customer wants a refund")] string? reason = null)
    {
        // The same call (after a retry) gets the same reference: a payment system would deduplicate on the key.
        var key = ToolCallContext.From(arguments)?.IdempotencyKey ?? orderId;
        return new { orderId, refunded = true, reference = "R-" + (Hash(key) % 100000).ToString("D5"), reason };
    }

    private static int Hash(string s) => (int)(BitConverter.ToUInt32(SHA256.HashData(Encoding.UTF8.GetBytes(s)), 0) & 0x7fffffff);
}
