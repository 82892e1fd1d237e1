using PromptActors.Persistence.Sql;
using PromptActors.Persistence.Tests.Support;
using PromptActors.Prompts;
using PromptActors.Runs;
using Xunit.Abstractions;

namespace PromptActors.Persistence.Tests.Stores;

/// <summary>
/// Write amplification of the run store on PostgreSQL, measured in WAL bytes: a turn (pending, streaming and final
/// writes) costs the same at turn 200 as at turn 10, and stays well inside the 3 KB per-turn budget.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class WriteVolumeTests(PostgresFixture postgres, ITestOutputHelper output) : StorageTestBase(postgres)
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 23, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Run_store_wal_per_turn_is_small_and_flat_in_conversation_length()
    {
        var run = new RunInfo("run-wal", "user-0001", "org-0001", "project-0001", "prompt", "travel-advisor", "demo run",
            "travel-advisor", 1, new PromptSettings("scripted", Temperature: 1, MaxTokens: 4096),
            new Dictionary<string, string> { ["city"] = "Paris", ["what"] = "Hotels" }, T0);
        var reply = string.Join(' ', Enumerable.Repeat("Paris has lovely hotels near the river.", 10)); // ~400 chars
        var turn = 0;

        async Task TurnsAsync(int count)
        {
            for (var end = turn + count; turn < end; turn++)
            {
                var at = T0.AddMinutes(turn);
                var taskId = Guid.NewGuid().ToString("N");
                var pending = new RunTaskRecord(run, taskId, "scripted", "scripted", $"Question number {turn}: what about hotels?",
                    RunTaskStatus.Pending, null, null, null, 0, 0, 0, 0m, null, null, at, at, null);
                await Storage.Runs.UpsertTaskAsync(pending);
                await Storage.Runs.UpsertTaskAsync(pending with { Status = RunTaskStatus.Streaming, UpdatedAt = at.AddSeconds(1) });
                await Storage.Runs.UpsertTaskAsync(pending with
                {
                    Status = RunTaskStatus.Completed, ResponseText = reply, TokensInput = 120 + turn * 90, TokensOutput = 90,
                    TokensTotal = 210 + turn * 90, Cost = 0.000312m, TimeToFirstTokenMs = 212.5, TotalTimeMs = 1830.25,
                    UpdatedAt = at.AddSeconds(2), CompletedAt = at.AddSeconds(2),
                });
            }
        }

        async Task<double> WalPerTurnAsync(int turns)
        {
            var before = await WalPositionAsync();
            await TurnsAsync(turns);
            return (await WalPositionAsync() - before) / (double)turns;
        }

        await TurnsAsync(5);
        var early = await WalPerTurnAsync(20);
        await TurnsAsync(160);
        var late = await WalPerTurnAsync(20);
        output.WriteLine($"run store WAL per turn: {early:F0} bytes at turns 5-25, {late:F0} bytes at turns 185-205");

        Assert.True(late <= early * 1.15 + 64, $"per-turn WAL grew with the conversation: {early:F0} → {late:F0} bytes");
        Assert.True(late <= 2048, $"per-turn WAL of the run store is {late:F0} bytes");
        await AssertTotalsMatchTaskRowsAsync("run-wal");
    }

    private async Task<long> WalPositionAsync()
    {
        await using var session = await SqlSession.OpenAsync(Storage.Dialect, default);
        return Convert.ToInt64(await session.Sql("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')").ScalarAsync(default));
    }
}
