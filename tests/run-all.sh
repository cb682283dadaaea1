#!/usr/bin/env bash
# The one command that installs what is needed and runs every test:
#   tests/run-all.sh            install deps, build with -Werror, unit,
#                               integration and cluster tests, the short fault
#                               campaign (tests/faults/run.sh), then the same tests under
#                               AddressSanitizer + UndefinedBehaviorSanitizer
#   tests/run-all.sh --no-install   skip the apt-get/pip step
#   tests/run-all.sh --no-asan      skip the sanitizer passes (ASan+UBSan,
#                                   then ThreadSanitizer)
#   tests/run-all.sh --no-docker    skip the Docker image and compose test
#                                   (it skips by itself without an engine)
# CI (.ci/run) calls exactly this. Long fuzz and benchmark runs are separate
# (see README: tests/fuzz/run.sh, make bench).
set -euo pipefail
cd "$(dirname "$0")/.."

install=1 asan=1 docker=1
for a in "$@"; do
  case "$a" in
    --no-install) install=0 ;;
    --no-asan) asan=0 ;;
    --no-docker) docker=0 ;;
    *) echo "usage: tests/run-all.sh [--no-install] [--no-asan] [--no-docker]" >&2; exit 2 ;;
  esac
done

[ "$install" = 1 ] && tests/install-deps.sh
export PATH="$PWD/.venv/bin:$PATH"
jobs=$(nproc 2>/dev/null || echo 2)

# Out-of-tree builds: build/ (plain, -Werror) and build-asan/ (sanitizers).
# An in-tree configure would block them, so it is cleaned first.
if [ -f config.status ]; then
  echo "== removing an in-tree configure (make distclean) so out-of-tree builds work"
  make distclean >/dev/null 2>&1 || true
fi
autoreconf -fi >/dev/null 2>&1

passed=0 failed=0

# automake keeps each runner's own summary in its .log: show them (Check's
# "100%: Checks: N, Failures: F, Errors: E", pytest's "N passed") and add
# them up for the closing line.
summarize() {  # build dir
  local dir=$1 line n f e
  for log in "$dir"/tests/unit/*.log; do
    line=$(grep -E '^[0-9]+%: Checks: ' "$log" | tail -1) || true
    [ -n "$line" ] || continue
    echo "  $(basename "$log" .log): $line"
    n=$(sed -E 's/.*Checks: ([0-9]+).*/\1/' <<<"$line")
    f=$(sed -E 's/.*Failures: ([0-9]+).*/\1/' <<<"$line")
    e=$(sed -E 's/.*Errors: ([0-9]+).*/\1/' <<<"$line")
    passed=$((passed + n - f - e)); failed=$((failed + f + e))
  done
  local suite
  for suite in integration cluster; do
    while read -r line; do
      echo "  $suite: $line"
      n=$({ grep -oE '[0-9]+ passed' <<<"$line" || true; } | awk '{s += $1} END {print s + 0}')
      f=$({ grep -oE '[0-9]+ (failed|errors?)' <<<"$line" || true; } | awk '{s += $1} END {print s + 0}')
      passed=$((passed + n)); failed=$((failed + ${f:-0}))
    done < <(grep -E '^[0-9]+ (passed|failed)|^=+ .*(passed|failed)' "$dir/tests/$suite/run.sh.log" 2>/dev/null)
    # Measurements a suite reports (the cluster suite's failover time).
    grep -E '^tern-cluster: ' "$dir/tests/$suite/run.sh.log" 2>/dev/null | sed 's/^/  /' || true
  done
}

run_suite() {  # dir, configure flags...
  local dir=$1; shift
  mkdir -p "$dir"
  (cd "$dir" && ../configure --enable-werror "$@" >/dev/null && make -j"$jobs" >/dev/null)
  local rc=0
  (cd "$dir" && make -j"$jobs" check) || rc=$?
  summarize "$dir"
  if [ "$rc" -ne 0 ]; then
    tail -120 "$dir/test-suite.log" 2>/dev/null || true
    echo "$passed passed, $((failed > 0 ? failed : 1)) failed"
    exit 1
  fi
}

echo "== build with warnings as errors; unit, integration and cluster tests"
run_suite build

echo "== fault campaign, short: kills, pauses, partitions and delay of three ternd (tests/faults)"
flog=build/faults.log
frc=0
tests/faults/run.sh --ternd "$PWD/build/ternd" >"$flog" 2>&1 || frc=$?
sed -n '/^| scenario/,/^$/p' "$flog" | sed 's/^/  /'
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$flog" | tail -1) || true
echo "  faults: ${line:-no summary}"
n=$(sed -nE 's/^([0-9]+) passed.*/\1/p' <<<"$line"); f=$(sed -nE 's/.* ([0-9]+) failed$/\1/p' <<<"$line")
passed=$((passed + ${n:-0})); failed=$((failed + ${f:-0}))
if [ "$frc" -ne 0 ]; then
  tail -80 "$flog"
  echo "$passed passed, $((failed > 0 ? failed : 1)) failed"; exit 1
fi

echo "== fuzz targets replay their seed corpora (open-ended fuzzing: tests/fuzz/run.sh)"
(cd build && make fuzz >/dev/null)
for target in build/tests/fuzz/fuzz_*; do
  case "$target" in *.c) continue ;; esac
  name=$(basename "$target"); name=${name#fuzz_}
  if "$target" -runs=0 "tests/fuzz/corpus/$name" >"build/fuzz_$name.log" 2>&1; then
    echo "  fuzz_$name: $(ls "tests/fuzz/corpus/$name" | wc -l) seeds replayed"
    passed=$((passed + 1))
  else
    tail -30 "build/fuzz_$name.log"; failed=$((failed + 1))
    echo "$passed passed, $failed failed"; exit 1
  fi
done

if [ "$asan" = 1 ]; then
  echo "== the same tests under AddressSanitizer + UndefinedBehaviorSanitizer"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  run_suite build-asan --enable-sanitizers

  echo "== the same tests under ThreadSanitizer (I/O loops share subscribers)"
  # Calls into libraries that are not instrumented (libuv, libraft, libevent)
  # are not tracked: libuv closes descriptors on its own threads, a hand-over
  # ThreadSanitizer cannot see (and its report of it aborts the runtime).
  export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:ignore_noninstrumented_modules=1:suppressions=$PWD/tests/tsan.supp
  run_suite build-tsan --enable-tsan CC=clang
fi
if [ "$docker" = 1 ]; then
  echo "== Docker image and three-node compose cluster (skips without a Docker engine)"
  dlog=build/docker-tests.log
  if ! tests/docker/run.sh >"$dlog" 2>&1; then
    tail -60 "$dlog"; failed=$((failed + 1))
    echo "$passed passed, $failed failed"; exit 1
  fi
  line=$(grep -E '[0-9]+ (passed|skipped)' "$dlog" | tail -1) || true
  echo "  docker: $line"
  grep -E '^tern-docker: ' "$dlog" | sed 's/^/  /' || true
  n=$({ grep -oE '[0-9]+ passed' <<<"$line" || true; } | awk '{s += $1} END {print s + 0}')
  passed=$((passed + n))
fi

echo "== all tests passed"
echo "$passed passed, $failed failed"
