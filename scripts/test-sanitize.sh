#!/usr/bin/env bash
# `make test-sanitize`: the whole test suite under clang AddressSanitizer + UBSan in
# build-asan, then the data-plane tests (hub, subscriber, gateway end to end, Python clients)
# under ThreadSanitizer in build-tsan. Integration tests spawn the wsgate binary of the same
# build directory (WSGATE_BINARY), so the gateway runs sanitized too; its sanitizer options
# come from the environment set here, and a report makes it exit non-zero, which the
# fixtures check on shutdown.
#   JOBS=N          parallel build and test jobs (default: nproc)
#   SANITIZE_ONLY=asan|tsan   run one half only
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=${JOBS:-$(nproc)}
only=${SANITIZE_ONLY:-}

# Reports abort at the first error, print symbolized stacks, and leaks fail the process.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:check_initialization_order=1
export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1
export TSAN_OPTIONS=halt_on_error=1:abort_on_error=1:second_deadlock_stack=1
if command -v llvm-symbolizer >/dev/null; then
  export ASAN_SYMBOLIZER_PATH=${ASAN_SYMBOLIZER_PATH:-$(command -v llvm-symbolizer)}
fi

configure() {  # dir sanitizers
  CC=clang CXX=clang++ cmake -S . -B "$1" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CXX_FLAGS_RELEASE="-O1 -g" -DWSGATE_SANITIZE="$2" -DWSGATE_BUILD_BENCH=OFF \
    >/dev/null
}

started=$(date +%s)
stamp() { echo "== $(($(date +%s) - started))s: $*" >&2; }

if [[ -z $only || $only == asan ]]; then
  stamp "build-asan: building with -fsanitize=address,undefined"
  configure build-asan address,undefined
  nice -n 10 cmake --build build-asan -j "$jobs"
  stamp "build-asan: running every test"
  (cd build-asan && ctest --output-on-failure --timeout 900 -j "$jobs")
fi

if [[ -z $only || $only == tsan ]]; then
  stamp "build-tsan: building with -fsanitize=thread"
  configure build-tsan thread
  nice -n 10 cmake --build build-tsan -j "$jobs" --target \
    wsgate wsgate-publish wsgate-token wsgate_unit_tests wsgate_gateway_tests
  stamp "build-tsan: running the hub, subscriber and gateway tests"
  (cd build-tsan && ctest --output-on-failure --timeout 900 -j "$jobs" \
    -R '^((Hub|Subscriber|Gateway[A-Za-z]*)\.|python_clients$)')
fi
stamp "sanitizer tests passed"
