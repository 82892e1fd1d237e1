// PostgresServer lives in the shared tests/PromptActors.TestSupport project (the benchmarks use it too).
global using PromptActors.TestSupport;
