using System.ComponentModel;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.AI;
using PromptActors.Tools;

namespace PromptActors.Host;

/// <summary>
/// The two example tools the host registers (<c>PromptActors:Examples:Tools</c>, on by default) for the
/// <c>order-support</c> example prompt: <c>lookup_order</c>, idempotent (made again after a crash), and
/// <c>refund_order</c>, which a person must approve and which is never made twice. Both are deterministic. To show what
/// the engine does with slow tools and with their side effects, <c>PromptActors:Examples:ToolDelay:{tool}</c> makes a tool
/// take that long (as a slow external system would; <c>ToolDelay:{tool}:{orderId}</c> for one order only), and <c>PromptActors:Examples:ToolLog</c> names a file every call
/// appends a line to (<c>tool</c>, tab, idempotency key): a side effect outside the engine, as a payment system keeps one.
/// </summary>
public static class ExampleTools
{
    public static void Register(ToolCollection tools, IConfiguration configuration)
    {
        var section = configuration.GetSection("PromptActors:Examples");
        var log = section["ToolLog"];
        TimeSpan Delay(string tool, string orderId) =>
            section.GetValue<TimeSpan?>($"ToolDelay:{tool}:{orderId}") ?? section.GetValue<TimeSpan?>("ToolDelay:" + tool) ?? TimeSpan.Zero;

        tools.Add(AIFunctionFactory.Create(async ([Description("The order id, e.g. A-1001")] string orderId, AIFunctionArguments arguments,
            CancellationToken ct) =>
        {
            await SideEffectAsync("lookup_order", arguments, Delay("lookup_order", orderId), log, ct);
            var n = Hash(orderId);
            string[] statuses = ["processing", "shipped", "delivered"];
            return (object)new { orderId, status = statuses[n % 3], carrier = n % 2 == 0 ? "DHL" : "UPS", items = 1 + n % 4 };
        }, "lookup_order", "Looks up an order's status by its id."), ToolPolicy.Idempotent);

        tools.Add(AIFunctionFactory.Create(async ([Description("The order id")] string orderId, AIFunctionArguments arguments,
            CancellationToken ct, [Description("Why the customer wants a refund")] string? reason = null) =>
        {
            await SideEffectAsync("refund_order", arguments, Delay("refund_order", orderId), log, ct);
            // The same call (after a retry) gets the same reference: a payment system would deduplicate on the key.
            var key = ToolCallContext.From(arguments)?.IdempotencyKey ?? orderId;
            return (object)new { orderId, refunded = true, reference = "R-" + (Hash(key) % 100000).ToString("D5"), reason };
        }, "refund_order", "Refunds an order (a person approves each refund first)."), ToolPolicy.AtMostOnce, requiresApproval: true);
    }

    private static readonly SemaphoreSlim LogGate = new(1, 1);

    private static async Task SideEffectAsync(string tool, AIFunctionArguments arguments, TimeSpan delay, string? log, CancellationToken ct)
    {
        if (log is not null)
        {
            // Calls run in parallel: FileMode.Append writes at the length the file had when opened, so two appends at once
            // would write the same place. They take turns (and share the file, so a reader never makes one fail).
            var line = Encoding.UTF8.GetBytes(tool + "\t" + (ToolCallContext.From(arguments)?.IdempotencyKey ?? "") + "\n");
            await LogGate.WaitAsync(ct);
            try
            {
                await using var file = new FileStream(log, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
                await file.WriteAsync(line, ct);
            }
            finally
            {
                LogGate.Release();
            }
        }
        if (delay > TimeSpan.Zero)
            await Task.Delay(delay, ct);
    }

    private static int Hash(string s) => (int)(BitConverter.ToUInt32(SHA256.HashData(Encoding.UTF8.GetBytes(s)), 0) & 0x7fffffff);
}
