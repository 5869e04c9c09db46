#!/usr/bin/env bash
# `make fuzz`: builds the libFuzzer targets (fuzz/) with clang in build-fuzz and runs each for
# FUZZ_SECONDS on a scratch copy of its seed corpus (fuzz/corpus/<name>), so the committed
# seeds are never flooded. Crash inputs land in build-fuzz/fuzz-findings/<name>/. Exits
# non-zero if any target crashed, leaked, hit UB or broke an invariant.
#   FUZZ_SECONDS=60    time per target
#   FUZZ_TARGETS="..." a subset, e.g. "route resp"
#   JOBS=N             parallel build jobs (default: nproc)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-60}
jobs=${JOBS:-$(nproc)}
targets=${FUZZ_TARGETS:-"jwt_token jwt_claims route resp redis_url"}
build=build-fuzz

command -v clang++ >/dev/null || { echo "fuzz: clang++ not found (apt-get install clang)" >&2; exit 1; }
CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_FLAGS_RELEASE="-O1 -g" -DWSGATE_FUZZ=ON -DWSGATE_BUILD_TESTS=OFF \
  -DWSGATE_BUILD_BENCH=OFF >/dev/null
nice -n 10 cmake --build "$build" -j "$jobs" --target fuzzers

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

summary=()
failed=0
for t in $targets; do
  seeds=fuzz/corpus/$t
  corpus=$build/fuzz-corpus/$t
  findings=$build/fuzz-findings/$t
  log=$build/fuzz-logs/$t.log
  [[ -d $seeds ]] || { echo "fuzz: no seed corpus $seeds" >&2; exit 1; }
  mkdir -p "$corpus" "$findings" "$(dirname "$log")"
  cp -n "$seeds"/* "$corpus"/ 2>/dev/null || true
  echo "== fuzz_$t: ${seconds}s" >&2
  status=0
  "$build/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$findings/" "$corpus" >"$log" 2>&1 || status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 || true)
  if [[ $status -ne 0 ]]; then
    failed=1
    summary+=("fuzz_$t: FAILED (exit $status) after ${runs:-?} runs; see $log and $findings/")
    grep -E 'ERROR|runtime error|invariant violated|SUMMARY' "$log" | head -5 >&2 || true
  else
    summary+=("fuzz_$t: ok, ${runs:-?} runs in ${seconds}s, ${cov:-cov: ?}, corpus $(ls "$corpus" | wc -l) inputs")
  fi
done

echo >&2
printf '%s\n' "${summary[@]}" >&2
exit $failed
