#!/usr/bin/env bash
# scripts/citus-down.sh — stop the local Citus cluster that scripts/citus-up.sh started.
#
#   scripts/citus-down.sh [--rm] [DIR]
#
#   DIR, or OMNIVEC_CITUS_DIR (default /tmp/omnivec-citus)
#   --rm  also delete DIR (the clusters and their data)
#
# Stops every node found under DIR (any cluster directory in it with a postmaster.pid), fast
# shutdown (open sessions are ended). As root the servers are stopped as the postgres user.
set -euo pipefail

RM=0
ARG=
for a in "$@"; do
  case "$a" in
    --rm) RM=1 ;;
    -*) echo "usage: $0 [--rm] [DIR]" >&2; exit 2 ;;
    *) ARG=$a ;;
  esac
done
DIR=$(realpath -m "${ARG:-${OMNIVEC_CITUS_DIR:-/tmp/omnivec-citus}}")
PGBIN=/usr/lib/postgresql/15/bin

if [ "$(id -u)" -eq 0 ]; then
  as_server() { runuser -u postgres -- "$@"; }
  cd /
else
  as_server() { "$@"; }
fi

if [ -d "$DIR" ]; then
  for d in "$DIR"/*/; do
    d=${d%/}
    [ -f "$d/PG_VERSION" ] || continue
    if [ -f "$d/postmaster.pid" ]; then
      as_server "$PGBIN/pg_ctl" -D "$d" -m fast -w -t 60 stop >/dev/null ||
        { echo "citus-down: FAILED: could not stop the server in $d" >&2; exit 1; }
      echo "citus-down: stopped ${d##*/}" >&2
    fi
  done
else
  echo "citus-down: no cluster at $DIR" >&2
fi
if [ "$RM" = 1 ] && [ -d "$DIR" ]; then
  rm -rf "$DIR"
  echo "citus-down: removed $DIR" >&2
fi
