#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan, coverage on every object) and runs each
# for SECONDS (default 30), starting from the committed seeds in tests/fuzz/corpus/<target>/
# (never modified: new inputs go to a scratch directory). Fails on any crash, leak, timeout or
# broken invariant, leaving the input that did it in build-fuzz/crashes/ to add to the corpus.
# Usage: tests/fuzz/run.sh [SECONDS]        Environment: FUZZ_BUILD_DIR (default build-fuzz)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${1:-30}
build=${FUZZ_BUILD_DIR:-$repo/build-fuzz}
command -v clang >/dev/null || {
    echo "tests/fuzz/run.sh: clang is not installed (dev/install-deps --ci)" >&2
    exit 1
}
CC=clang cmake -S "$repo" -B "$build" -DORACLE_FUZZ=ON -DORACLE_SANITIZE="address;undefined" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target fuzz_wire fuzz_http fuzz_chrony fuzz_tls \
    >/dev/null
work=$(mktemp -d "${TMPDIR:-/tmp}/oracle-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$build/crashes"
rc=0
for t in wire http chrony tls; do
    mkdir -p "$work/$t"
    echo "fuzz_$t: $seconds s"
    if ! "$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$build/crashes/$t-" "$work/$t" \
        "$repo/tests/fuzz/corpus/$t" >"$work/$t.log" 2>&1; then
        tail -n 40 "$work/$t.log" >&2
        echo "fuzz_$t FAILED: the input is in $build/crashes/" >&2
        rc=1
    else
        grep -E "^stat::number_of_executed_units|Done [0-9]+ runs" "$work/$t.log" | tail -n 1
    fi
done
exit $rc
