#!/usr/bin/env bash
# Runs every test project of the solution and ends with one line: "N passed, N failed[, N skipped]".
# Tests that need PostgreSQL start their own server (PostgreSQL 15 binaries under /usr/lib/postgresql/*/bin).
set -uo pipefail
cd "$(dirname "$0")/.."

results=TestResults
rm -rf "$results"
dotnet test PromptActors.sln -c Release --nologo --logger "trx" --results-directory "$results" "$@"
code=$?

passed=0 failed=0 skipped=0 files=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  files=$((files + 1))
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  get() { echo "$counters" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*' || echo 0; }
  p=$(get passed); f=$(get failed); e=$(get error); t=$(get total); x=$(get executed); n=$(get notExecuted)
  passed=$((passed + p))
  failed=$((failed + f + e))
  skipped=$((skipped + n))
  # a project that ran fewer tests than it holds (crash, timeout) counts the rest as failed
  if [ "$x" -lt "$t" ] && [ "$n" -eq 0 ]; then failed=$((failed + t - x)); fi
done

if [ "$files" -eq 0 ] || { [ "$code" -ne 0 ] && [ "$failed" -eq 0 ]; }; then
  # the build failed or a test host crashed before writing results
  failed=$((failed + 1))
fi

line="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && line="$line, $skipped skipped"
echo "$line"
[ "$failed" -eq 0 ]
