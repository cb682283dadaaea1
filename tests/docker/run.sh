#!/usr/bin/env bash
# Run the Docker deployment test (tests/docker/test_compose.py): builds the
# image, starts the compose cluster, uses each node, tears it down. Skips,
# with the reason, where no Docker engine is present. Extra arguments go to
# pytest. Uses .venv's Python when there is one (tests/install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
py=python3
[ -x .venv/bin/python3 ] && py=.venv/bin/python3
exec "$py" -m pytest -c tests/docker/pytest.ini --rootdir tests/docker tests/docker "$@"
