#!/bin/sh
# tests/fuzz/run.sh — build Tern's libFuzzer targets and run each in turn.
#
# Usage: tests/fuzz/run.sh [seconds per target, default 60]
# Run from the build directory (the one with the Makefile), or set BUILD_DIR.
# Every tests/fuzz/fuzz_<name>.c found is built with `make tests/fuzz/fuzz_<name>`
# and run with its seeds from tests/fuzz/corpus/<name>/ (read only); new inputs
# go to $FUZZ_WORK/<name>/corpus, crash inputs to $FUZZ_WORK/<name>/artifacts
# (default FUZZ_WORK /tmp/tern-fuzz), never
# into the source tree. A target whose source is missing (fuzz_conf may not be
# written yet) is skipped; one that fails to build or finds a crash makes the
# script exit non-zero after the others have run.
set -u

secs=${1:-60}
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$(pwd)}
work=${FUZZ_WORK:-/tmp/tern-fuzz}

if [ ! -f "$build/Makefile" ]; then
    echo "run.sh: no Makefile in $build (run from the build directory or set BUILD_DIR)" >&2
    exit 2
fi

# Sanitizer reports must stop the run, or libFuzzer would not keep the input.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}

status=0
found=0
for c in "$src"/tests/fuzz/fuzz_*.c; do
    [ -f "$c" ] || continue
    found=1
    target=$(basename "$c" .c)
    name=${target#fuzz_}
    echo "== $target: build"
    if ! make -C "$build" "tests/fuzz/$target"; then
        echo "run.sh: $target did not build" >&2
        status=1
        continue
    fi
    mkdir -p "$work/$name/corpus" "$work/$name/artifacts"
    seeds="$src/tests/fuzz/corpus/$name"
    [ -d "$seeds" ] || seeds=""
    echo "== $target: ${secs}s, corpus $work/$name/corpus ${seeds:+seeds $seeds}"
    # $seeds is deliberately unquoted: it is one path or nothing.
    # shellcheck disable=SC2086
    if ! "$build/tests/fuzz/$target" -max_total_time="$secs" -print_final_stats=1 \
            -artifact_prefix="$work/$name/artifacts/" -timeout=10 -rss_limit_mb=2048 \
            "$work/$name/corpus" $seeds; then
        echo "run.sh: $target failed; see $work/$name/artifacts/" >&2
        status=1
    fi
done

if [ "$found" = 0 ]; then
    echo "run.sh: no tests/fuzz/fuzz_*.c under $src" >&2
    exit 2
fi
exit $status
