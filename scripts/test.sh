#!/usr/bin/env bash
# Sets up and runs the default test suite (what CI runs), ending with one "N passed, N failed" line.
set -uo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh || exit $?
dotnet build Decentralized.sln -c Release -nologo -clp:ErrorsOnly || exit $?

log=$(mktemp)
dotnet test Decentralized.sln -c Release --no-build --filter "Category!=Slow&Category!=Benchmark" -nologo 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# One summary over all test assemblies: "Passed!  - Failed: 0, Passed: 36, Skipped: 0, Total: 36".
passed=$(grep -oE 'Passed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
failed=$(grep -oE 'Failed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
skipped=$(grep -oE 'Skipped: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
rm -f "$log"
echo "Total tests: $((passed + failed + skipped))"
echo "     Passed: $passed"
echo "     Failed: $failed"
echo "$passed passed, $failed failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
