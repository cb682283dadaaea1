#!/bin/sh
# Tern cluster tests: pytest + nats-py against real multi-node clusters.
#
#   tests/cluster/run.sh [pytest args...]
#
# Without TERN_REFERENCE every node is ternd: $TERND, else the ternd of the
# current (top build) directory, else the one next to the sources; the
# mixed-cluster test adds two nats-server nodes ($NATS_SERVER, default
# /usr/sbin/nats-server). TERN_REFERENCE=1 runs the whole suite against
# nats-server only (the mixed test then uses three nats-server nodes).
#
# Prints pytest's summary (and the measured failover time); the whole report
# with node logs when something fails. Exit status non-zero on failure.

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
NATS_SERVER=${NATS_SERVER:-/usr/sbin/nats-server}
export NATS_SERVER
if [ ! -x "$NATS_SERVER" ]; then
    echo "run.sh: no nats-server at $NATS_SERVER (needed for the reference and mixed tests)" >&2
    exit 99
fi

# Keep the source tree clean (a read-only srcdir works too).
export PYTHONDONTWRITEBYTECODE=1

if [ "${TERN_REFERENCE:-}" = 1 ]; then
    echo "== cluster tests against the reference nats-server ($NATS_SERVER)"
else
    echo "== cluster tests against $TERND"
fi
log="${TMPDIR:-/tmp}/tern-cluster.$$.log"
"$PYTHON" -m pytest -q -p no:cacheprovider --rootdir="$here" -c "$here/pytest.ini" \
    "$here" "$@" >"$log" 2>&1
rc=$?
if [ $rc -ne 0 ]; then
    cat "$log"
else
    grep -E '^tern-cluster: |^(FAILED|ERROR|SKIPPED) |^=+ .* in [0-9.]+s|^[0-9]+ (passed|failed|error|skipped).* in [0-9.]+s' "$log"
fi
rm -f "$log"
[ $rc -eq 0 ]
