#!/usr/bin/env bash
# Build the base image debian:bookworm-slim locally, for machines that can
# reach a Debian mirror but no container registry. It runs
# `debootstrap --variant=minbase bookworm` from the mirror apt on this host is
# already configured with (read from /etc/apt/sources.list and
# /etc/apt/sources.list.d/*.{list,sources}), trims it the way the official
# slim image is trimmed, and loads it with `docker import`, so that
# deploy/Dockerfile builds unchanged.
#
# Idempotent: if the image tag already exists it is reused (use --force to
# rebuild). Needs root (debootstrap), the Docker engine and debootstrap.
#
#   deploy/build-base-image.sh [--force] [--tag debian:bookworm-slim]
#   BASE_IMAGE=debian:bookworm-slim deploy/build-base-image.sh
set -euo pipefail

TAG="${BASE_IMAGE:-debian:bookworm-slim}"
SUITE=bookworm
force=0
while [ $# -gt 0 ]; do
  case "$1" in
    --force) force=1 ;;
    --tag) TAG="$2"; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "usage: $0 [--force] [--tag IMAGE]" >&2; exit 2 ;;
  esac
  shift
done

log() { echo "build-base-image: $*" >&2; }
die() { log "$*"; exit 1; }

command -v docker >/dev/null || die "docker is not installed"
docker info >/dev/null 2>&1 || die "the Docker engine is not reachable"

if [ "$force" = 0 ] && docker image inspect "$TAG" >/dev/null 2>&1; then
  log "$TAG already present, reusing it (--force rebuilds)"
  exit 0
fi

[ "$(id -u)" -eq 0 ] || die "debootstrap needs root"
if ! command -v debootstrap >/dev/null; then
  log "installing debootstrap with apt-get"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi

# --- find the mirror apt already uses --------------------------------------
# Prints "URI SUITE" for every enabled deb source: one-line sources.list
# format and deb822 .sources format.
apt_sources() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    # deb [opt=val ...] URI SUITE COMPONENTS...
    sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" |
      awk '$1 == "deb" && NF >= 3 { print $2, $3 }'
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # Stanzas separated by blank lines; print URI x Suite for Types: deb.
    awk '
      function flush(  i, j) {
        if (types ~ /(^| )deb( |$)/ && enabled != "no")
          for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++) print u[i], s[j]
        types = ""; enabled = ""; nu = 0; ns = 0
      }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      tolower($1) == "types:"   { types = $0; sub(/^[^:]*:[ \t]*/, "", types) }
      tolower($1) == "enabled:" { enabled = tolower($2) }
      tolower($1) == "uris:"    { for (i = 2; i <= NF; i++) u[++nu] = $i }
      tolower($1) == "suites:"  { for (i = 2; i <= NF; i++) s[++ns] = $i }
      END { flush() }
    ' "$f"
  done
}

MIRROR="$(apt_sources | awk -v s="$SUITE" '$2 == s { print $1; exit }')"
SECURITY="$(apt_sources | awk -v s="$SUITE-security" '$2 == s { print $1; exit }')"
[ -n "$MIRROR" ] || die "no apt source for suite '$SUITE' in /etc/apt/sources.list{,.d/}"
MIRROR="${MIRROR%/}"
log "mirror from apt's sources: $MIRROR${SECURITY:+ (security: $SECURITY)}"

# --- debootstrap -------------------------------------------------------------
ARCH="$(dpkg --print-architecture)"
WORK="$(mktemp -d "${TMPDIR:-/var/tmp}/tern-base.XXXXXX")"
ROOT="$WORK/rootfs"
cleanup() {
  local m
  for m in dev/pts dev proc sys; do
    if mountpoint -q "$ROOT/$m" 2>/dev/null; then umount -l "$ROOT/$m" || true; fi
  done
  rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT

KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
keyopt=()
[ -f "$KEYRING" ] && keyopt=(--keyring="$KEYRING")

log "debootstrap --variant=minbase $SUITE ($ARCH) into $ROOT"
start=$(date +%s)
nice -n 10 debootstrap --variant=minbase --arch="$ARCH" "${keyopt[@]}" \
  "$SUITE" "$ROOT" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 || {
  tail -40 "$WORK/debootstrap.log" >&2
  die "debootstrap failed"
}
log "debootstrap done in $(( $(date +%s) - start ))s"

# --- configure apt inside the image like the official image -------------------
rm -f "$ROOT/etc/apt/sources.list"
mkdir -p "$ROOT/etc/apt/sources.list.d"
{
  printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\n' \
    "$MIRROR" "$SUITE" "$SUITE"
  printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
  if [ -n "$SECURITY" ]; then
    printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\n' \
      "${SECURITY%/}" "$SUITE"
    printf 'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n'
  fi
} >"$ROOT/etc/apt/sources.list.d/debian.sources"

# Carry over only the host's apt settings needed to reach the same mirror
# (a proxy; validity checks turned off for a frozen snapshot mirror).
apt-config dump 2>/dev/null |
  grep -E '^Acquire::(https?::Proxy|Check-Valid-Until|Check-Date) ' \
  >"$ROOT/etc/apt/apt.conf.d/90local-mirror" || true
[ -s "$ROOT/etc/apt/apt.conf.d/90local-mirror" ] ||
  rm -f "$ROOT/etc/apt/apt.conf.d/90local-mirror"

# The same trimming the official slim image does: no docs, man pages or
# translations from later installs, and apt keeps no package cache.
mkdir -p "$ROOT/etc/dpkg/dpkg.cfg.d"
cat >"$ROOT/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
cat >"$ROOT/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
  >"$ROOT/etc/apt/apt.conf.d/docker-no-recommends"
find "$ROOT/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete 2>/dev/null || true
rm -rf "$ROOT"/usr/share/man/* "$ROOT"/usr/share/info/* "$ROOT"/usr/share/locale/* \
  "$ROOT"/var/cache/apt/*.bin "$ROOT"/var/cache/apt/archives/*.deb \
  "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/log/*.log "$ROOT"/var/log/apt/* \
  "$ROOT"/tmp/* "$ROOT"/var/tmp/*
: >"$ROOT/etc/resolv.conf"
: >"$ROOT/etc/hostname"
# Nothing is mounted on the rootfs now; device nodes come from the engine.
rm -rf "${ROOT:?}"/dev/* "${ROOT:?}"/proc/* "${ROOT:?}"/sys/*

# --- import ---------------------------------------------------------------------
log "docker import -> $TAG"
tar --numeric-owner --xattrs -C "$ROOT" -cf - . |
  docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' \
    --change "LABEL org.tern.base-image=debootstrap-minbase org.tern.mirror=$MIRROR" \
    --message "debootstrap --variant=minbase $SUITE from $MIRROR" \
    - "$TAG" >/dev/null
docker image ls "$TAG" >&2
log "done in $(( $(date +%s) - start ))s"
