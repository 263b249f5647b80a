#!/usr/bin/env bash
# .ci/postgres-down.sh [--rm] — stops the server .ci/postgres-up.sh started in OMNIVEC_PG_DIR
# (default /tmp/omnivec-ci-pg); --rm also deletes the cluster. Run as root. The packages and the
# built pgvector stay installed (the next postgres-up.sh only runs initdb and starts the server).
set -euo pipefail
DATA=$(realpath -m "${OMNIVEC_PG_DIR:-/tmp/omnivec-ci-pg}")
PGBIN=/usr/lib/postgresql/15/bin
[ "$(id -u)" -eq 0 ] || { echo "postgres-down: must run as root: sudo $0" >&2; exit 1; }
cd /
if [ -f "$DATA/postmaster.pid" ] && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
  # pg_ctl signals exactly the postmaster named in the cluster's postmaster.pid.
  runuser -u postgres -- "$PGBIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null
  echo "postgres-down: stopped the server of $DATA" >&2
else
  echo "postgres-down: no server running in $DATA" >&2
fi
if [ "${1:-}" = --rm ]; then
  if [ -f "$DATA/PG_VERSION" ]; then rm -rf "$DATA"; echo "postgres-down: removed $DATA" >&2
  elif [ -e "$DATA" ]; then echo "postgres-down: $DATA is not a PostgreSQL cluster; left as it is" >&2; fi
fi
