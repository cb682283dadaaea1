#!/usr/bin/env bash
# Container health check for Tern: GET /healthz on the local monitoring port
# (default 8222) and succeed only on HTTP 200. Uses bash's /dev/tcp so the
# image needs no curl or wget.
#   tern-healthcheck [port] [path]
set -euo pipefail
port="${1:-${TERN_MONITOR_PORT:-8222}}"
path="${2:-/healthz}"
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' "$path" >&3
IFS= read -r -t 3 status <&3
exec 3<&- 3>&-
case "$status" in
  HTTP/1.[01]\ 200*) exit 0 ;;
  *) echo "unhealthy: ${status:-no answer}" >&2; exit 1 ;;
esac
