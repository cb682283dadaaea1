#!/usr/bin/env bash
# Start, stop or inspect a three-node Tern cluster on this machine without
# Docker: ternd processes n1, n2, n3 on 127.0.0.1 with deploy/local/n{1,2,3}.conf
# (clients 4222-4224, routes 6222-6224, monitoring 8222-8224). Each node keeps
# its JetStream store, log and pid file under the run directory.
#
#   deploy/run-local-cluster.sh [start]   start n1..n3, wait until /healthz is ok
#   deploy/run-local-cluster.sh stop      stop them (SIGTERM, then SIGKILL)
#   deploy/run-local-cluster.sh status    pid and /healthz of each node
#
# Options (before the command): --ternd PATH (default: $TERND, ./ternd, or ternd
# on PATH), --dir DIR (default: $TERN_LOCAL_DIR or /tmp/tern-local).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
TERND="${TERND:-}"
DIR="${TERN_LOCAL_DIR:-/tmp/tern-local}"
NODES=(n1 n2 n3)
cmd=start

while [ $# -gt 0 ]; do
  case "$1" in
    --ternd) TERND="$2"; shift ;;
    --dir) DIR="$2"; shift ;;
    start|stop|status) cmd="$1" ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "usage: $0 [--ternd PATH] [--dir DIR] [start|stop|status]" >&2; exit 2 ;;
  esac
  shift
done

log() { echo "run-local-cluster: $*" >&2; }
die() { log "$*"; exit 1; }

http_port() { echo $((8221 + ${1#n})); }
client_port() { echo $((4221 + ${1#n})); }
route_port() { echo $((6221 + ${1#n})); }

# Prints the HTTP status line of GET /healthz on a node, or nothing.
healthz() {
  local status=""
  if exec 3<>"/dev/tcp/127.0.0.1/$(http_port "$1")" 2>/dev/null; then
    printf 'GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
    IFS= read -r -t 2 status <&3 || true
    exec 3<&- 3>&-
  fi
  printf '%s' "${status%$'\r'}"
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

node_pid() {  # pid of a running node, or nothing
  local f="$DIR/$1.pid" pid
  [ -s "$f" ] || return 0
  pid="$(cat "$f")"
  if kill -0 "$pid" 2>/dev/null; then echo "$pid"; fi
}

find_ternd() {
  if [ -z "$TERND" ]; then
    if [ -x "$root/ternd" ]; then TERND="$root/ternd"
    elif command -v ternd >/dev/null; then TERND="$(command -v ternd)"
    else die "no ternd: build it (autoreconf -fi && ./configure && make) or pass --ternd"
    fi
  fi
  [ -x "$TERND" ] || die "$TERND is not executable"
}

start() {
  find_ternd
  mkdir -p "$DIR"
  local n p pid
  for n in "${NODES[@]}"; do
    [ -z "$(node_pid "$n")" ] || die "$n is already running (pid $(node_pid "$n")); stop it first"
    for p in "$(client_port "$n")" "$(route_port "$n")" "$(http_port "$n")"; do
      ! port_busy "$p" || die "port $p on 127.0.0.1 is in use"
    done
  done
  for n in "${NODES[@]}"; do
    mkdir -p "$DIR/$n"
    # -sd puts the store under the run directory; -P writes the pid file.
    nohup "$TERND" -c "$here/local/$n.conf" -sd "$DIR/$n" -P "$DIR/$n.pid" \
      >>"$DIR/$n.log" 2>&1 </dev/null &
    echo $! >"$DIR/$n.pid"
    log "$n started (pid $!), log $DIR/$n.log"
  done
  local deadline=$((SECONDS + 15)) ok
  while :; do
    ok=0
    for n in "${NODES[@]}"; do
      [ -n "$(node_pid "$n")" ] || { tail -20 "$DIR/$n.log" >&2; die "$n exited"; }
      case "$(healthz "$n")" in "HTTP/1."?" 200"*) ok=$((ok + 1)) ;; esac
    done
    [ "$ok" -lt "${#NODES[@]}" ] || break
    [ "$SECONDS" -lt "$deadline" ] || die "nodes not healthy after 15s (see $DIR/*.log)"
    sleep 0.2
  done
  for n in "${NODES[@]}"; do
    log "$n healthy: nats://127.0.0.1:$(client_port "$n")  http://127.0.0.1:$(http_port "$n")/healthz"
  done
  log "stop with: $0 --dir $DIR stop"
}

stop() {
  local n pid
  for n in "${NODES[@]}"; do
    pid="$(node_pid "$n")"
    if [ -z "$pid" ]; then rm -f "$DIR/$n.pid"; continue; fi
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      log "$n (pid $pid) did not stop on SIGTERM; SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$DIR/$n.pid"
    log "$n stopped"
  done
}

status() {
  local n pid rc=0
  for n in "${NODES[@]}"; do
    pid="$(node_pid "$n")"
    if [ -n "$pid" ]; then
      echo "$n pid $pid healthz: $(healthz "$n")"
    else
      echo "$n not running"; rc=1
    fi
  done
  return "$rc"
}

"$cmd"
