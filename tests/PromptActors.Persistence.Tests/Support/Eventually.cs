namespace PromptActors.Persistence.Tests.Support;

/// <summary>Waits for something to become true without sleeping a thread.</summary>
public static class Eventually
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(20);

    /// <summary>Runs <paramref name="assertion"/> until it stops throwing; rethrows its last failure at the deadline.</summary>
    public static async Task AwaitAssertAsync(Func<Task> assertion, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        while (true)
        {
            try
            {
                await assertion();
                return;
            }
            catch (Exception) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
        }
    }

    public static async Task<T> AwaitResultAsync<T>(Func<Task<T>> attempt, TimeSpan? timeout = null)
    {
        T result = default!;
        await AwaitAssertAsync(async () => result = await attempt(), timeout);
        return result;
    }

    /// <summary>Waits until <paramref name="condition"/> is true; fails with <paramref name="what"/> at the deadline.</summary>
    public static async Task AwaitConditionAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        while (!await condition())
        {
            if (DateTime.UtcNow >= deadline)
                throw new TimeoutException($"Timed out waiting until {what}.");
            await Task.Delay(50);
        }
    }
}
