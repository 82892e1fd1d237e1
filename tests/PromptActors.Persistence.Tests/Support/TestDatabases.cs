using Microsoft.Data.Sqlite;
using PromptActors.Persistence;

namespace PromptActors.Persistence.Tests.Support;

/// <summary>Hands out fresh, empty databases of one kind.</summary>
public interface ITestDatabases
{
    string Provider { get; }

    Task<StorageOptions> CreateDatabaseAsync();
}

/// <summary>SQLite: one temporary file per database, in a folder deleted when the test class is done.</summary>
public sealed class SqliteFiles : ITestDatabases, IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "pa-sqlite-" + Guid.NewGuid().ToString("N")[..12]);
    private int _next;

    public SqliteFiles() => Directory.CreateDirectory(_folder);

    public string Provider => StorageOptions.Sqlite;

    public Task<StorageOptions> CreateDatabaseAsync() =>
        Task.FromResult(StorageOptions.ForSqlite($"Data Source={Path.Combine(_folder, $"db{Interlocked.Increment(ref _next)}.db")}"));

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_folder, recursive: true);
        }
        catch (IOException)
        {
            // A file still held by a pooled connection is left to the OS's temp cleanup.
        }
    }
}
