#!/bin/sh
# The short fault campaign (CI's stage of tests/run-all.sh, about 2.5
# minutes): three ternd nodes, kills, pauses, iptables partitions and added
# delay on loopback, the checker's table and a closing "N passed, M failed"
# line (scenarios).
#
#   tests/faults/run.sh [campaign.py args...]
#
# ternd is $TERND, else ./ternd (a build directory), else build/ternd next
# to the sources. Needs root (iptables, cgroups) and nats-py for $PYTHON.
# The whole campaign, against nats-server too: tests/faults/campaign.py.
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
if [ -z "${TERND:-}" ]; then
    if [ -x "$PWD/ternd" ]; then TERND=$PWD/ternd; else TERND=$top/build/ternd; fi
fi
PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import nats' 2>/dev/null; then
    echo "faults/run.sh: needs nats-py for $PYTHON (pip install -r tests/requirements.txt)" >&2
    exit 99
fi
export PYTHONDONTWRITEBYTECODE=1
exec "$PYTHON" "$here/campaign.py" --short --ternd "$TERND" "$@"
