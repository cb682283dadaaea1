#!/bin/sh
# Tern integration tests: pytest + nats-py against real server processes.
#
#   tests/integration/run.sh [pytest args...]
#
# `make check` runs this with TERND (the ternd under test) and TERN_SRCDIR
# set. Without TERND it uses the ternd of the current (top build) directory,
# else the one next to the sources. The suite runs twice, with
# TERN_THREADS=1 and TERN_THREADS=2 (passed to ternd as --threads), and
# fails if either run fails.
#
# TERN_REFERENCE=1 runs the same suite once against the reference
# nats-server (/usr/sbin/nats-server, or $NATS_SERVER) instead.

here=$(cd "$(dirname "$0")" && pwd)

if [ "${TERN_REFERENCE:-}" != 1 ] && [ -z "${TERND:-}" ]; then
    if [ -x "$PWD/ternd" ]; then
        TERND=$PWD/ternd
    else
        TERND=$(cd "$here/../.." && pwd)/ternd
    fi
fi
export TERND

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import pytest, pytest_asyncio, nats' 2>/dev/null; then
    echo "run.sh: needs pytest, pytest-asyncio and nats-py for $PYTHON" >&2
    echo "        (pip install -r tests/requirements.txt)" >&2
    exit 99
fi
if [ "${TERN_REFERENCE:-}" != 1 ] && [ ! -x "$TERND" ]; then
    echo "run.sh: no ternd binary at $TERND" >&2
    exit 99
fi

# Keep the source tree clean (a read-only srcdir works too).
export PYTHONDONTWRITEBYTECODE=1

status=0
if [ "${TERN_REFERENCE:-}" = 1 ]; then
    passes="reference"
else
    passes="1 2"
fi
for t in $passes; do
    log="${TMPDIR:-/tmp}/tern-integration.$$.$t.log"
    if [ "$t" = reference ]; then
        echo "== integration tests against the reference nats-server"
    else
        export TERN_THREADS=$t
        echo "== integration tests against $TERND, TERN_THREADS=$t"
    fi
    "$PYTHON" -m pytest -q -p no:cacheprovider --rootdir="$here" -c "$here/pytest.ini" \
        "$here" "$@" >"$log" 2>&1
    rc=$?
    if [ $rc -ne 0 ]; then
        # The whole report (failures with server logs) for the test log.
        cat "$log"
        status=1
    else
        # Only pytest's summary lines.
        grep -E '^(FAILED|ERROR) |^=+ .* in [0-9.]+s|^[0-9]+ (passed|failed|error).* in [0-9.]+s' "$log"
    fi
    rm -f "$log"
done
exit $status
