#!/usr/bin/env bash
# The one command that installs what is needed and runs every test:
#   tests/run-all.sh            install deps, build with -Werror, unit +
#                               integration tests, then the same tests under
#                               AddressSanitizer + UndefinedBehaviorSanitizer
#   tests/run-all.sh --no-install   skip the apt-get/pip step
#   tests/run-all.sh --no-asan      skip the sanitizer pass
# CI (.ci/run) calls exactly this. Long fuzz and benchmark runs are separate
# (see README: tests/fuzz/run.sh, make bench).
set -euo pipefail
cd "$(dirname "$0")/.."

install=1 asan=1
for a in "$@"; do
  case "$a" in
    --no-install) install=0 ;;
    --no-asan) asan=0 ;;
    *) echo "usage: tests/run-all.sh [--no-install] [--no-asan]" >&2; exit 2 ;;
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

run_suite() {  # dir, configure flags...
  local dir=$1; shift
  mkdir -p "$dir"
  (cd "$dir" && ../configure --enable-werror "$@" >/dev/null && make -j"$jobs" >/dev/null)
  if ! (cd "$dir" && make -j"$jobs" check); then
    tail -120 "$dir/test-suite.log" 2>/dev/null || true
    exit 1
  fi
}

echo "== build with warnings as errors; unit and integration tests"
run_suite build

if [ "$asan" = 1 ]; then
  echo "== the same tests under AddressSanitizer + UndefinedBehaviorSanitizer"
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  run_suite build-asan --enable-sanitizers
fi
echo "== all tests passed"
