using PromptActors.Host.Auth;

namespace PromptActors.Host.Tests;

public sealed class DevKeyTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "promptactors-devkey-" + Guid.NewGuid().ToString("N"));

    private AuthOptions Options => new() { DevKeyFile = Path.Combine(_dir, "data", "dev-api-key.json") };

    [Fact]
    public void First_start_generates_a_key_and_later_starts_accept_it_without_a_new_one()
    {
        var (first, key) = ApiKeyStore.Load(Options);
        var (second, again) = ApiKeyStore.Load(Options);

        Assert.NotNull(key);
        Assert.Null(again);
        Assert.Equal("local", first.Find(key)!.UserId);
        Assert.Equal("local", second.Find(key)!.UserId);
        Assert.DoesNotContain(key, File.ReadAllText(Options.DevKeyFile)); // only the hash is kept
    }

    [Fact]
    public async Task Processes_starting_together_agree_on_one_key()
    {
        using var start = new ManualResetEventSlim();
        var loads = Enumerable.Range(0, 16).Select(_ => Task.Run(() =>
        {
            start.Wait();
            return ApiKeyStore.Load(Options);
        })).ToArray();
        start.Set();
        var results = await Task.WhenAll(loads);

        var key = Assert.Single(results, r => r.NewDevKey is not null).NewDevKey!;
        Assert.All(results, r => Assert.Equal("local", r.Store.Find(key)?.UserId));
        Assert.Equal(["dev-api-key.json", "dev-api-key.json.lock"], // no temporary file is left behind
            Directory.GetFiles(Path.GetDirectoryName(Options.DevKeyFile)!).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("")]
    [InlineData("{\"keyHash\":\"sha256:ab")]
    [InlineData("{\"keyHash\":\"not-a-hash\",\"userId\":\"local\"}")]
    public void A_damaged_key_file_is_replaced_by_a_new_key(string content)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Options.DevKeyFile)!);
        File.WriteAllText(Options.DevKeyFile, content);

        var (store, key) = ApiKeyStore.Load(Options);
        var (_, again) = ApiKeyStore.Load(Options);

        Assert.NotNull(key);
        Assert.Equal("local", store.Find(key)!.UserId);
        Assert.Null(again);
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
