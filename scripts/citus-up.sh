#!/usr/bin/env bash
# scripts/citus-up.sh — a throwaway local Citus cluster (one coordinator, two workers, PostgreSQL
# 15 + Citus + pgvector) for omnivec's Citus tests (docs/postgres.md, "A local Citus cluster").
# Safe to run again: what is done is skipped, running nodes are left as they are.
#
#   scripts/citus-up.sh [DIR]
#
#   DIR, or OMNIVEC_CITUS_DIR   (default /tmp/omnivec-citus)  one cluster directory per node
#                               (coordinator/, worker1/, worker2/), each also its unix socket directory
#   OMNIVEC_CITUS_PORT          (default 18140)  the coordinator's TCP port; worker N listens on PORT+N
#   OMNIVEC_CITUS_WORKERS       (default 2)      how many workers
#   OMNIVEC_CITUS_SHARD_COUNT   (default: Citus's own, 32)  citus.shard_count on the coordinator,
#                               written when a cluster is first made
#
# Loopback only, trust authentication, superuser postgres, durability off (a machine crash loses
# the data; a killed client loses nothing). Runs as a normal user (the servers run as that user)
# or as root (they run as the postgres user). Needs Citus and pgvector installed for PostgreSQL 15:
# it installs nothing (scripts/citus-build.sh builds Citus, .ci/postgres-up.sh builds pgvector).
# Progress goes to stderr and to DIR/citus-up.log; stdout is one line:
#   OMNIVEC_TEST_CITUS_URL=postgres://postgres@127.0.0.1:PORT/postgres
set -euo pipefail

DIR=$(realpath -m "${1:-${OMNIVEC_CITUS_DIR:-/tmp/omnivec-citus}}")
PORT=${OMNIVEC_CITUS_PORT:-18140}
WORKERS=${OMNIVEC_CITUS_WORKERS:-2}
SHARDS=${OMNIVEC_CITUS_SHARD_COUNT:-}
PGBIN=/usr/lib/postgresql/15/bin
URL="postgres://postgres@127.0.0.1:$PORT/postgres"
START=$(date +%s.%N)

elapsed() { awk -v a="$START" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f s", b - a }'; }
note() { echo "citus-up: $* ($(elapsed))" | tee -a "$LOG" >&2; }
refuse() { echo "citus-up: FAILED: $*" >&2; exit 1; }
fail() {
  if [ -s "$LOG" ]; then echo "citus-up: the end of $LOG:" >&2; tail -n 20 "$LOG" | sed 's/^/  | /' >&2; fi
  refuse "$@"
}

case "$PORT" in ''|*[!0-9]*) refuse "OMNIVEC_CITUS_PORT must be a port number, got '$PORT'" ;; esac
case "$WORKERS" in ''|*[!0-9]*|0) refuse "OMNIVEC_CITUS_WORKERS must be a number ≥ 1, got '$WORKERS'" ;; esac
case "$SHARDS" in *[!0-9]*) refuse "OMNIVEC_CITUS_SHARD_COUNT must be a number, got '$SHARDS'" ;; esac
[ $((PORT + WORKERS)) -le 65535 ] || refuse "ports $PORT..$((PORT + WORKERS)) do not all exist"

# The servers run as the caller, or as postgres when the caller is root (initdb refuses root).
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || refuse "running as root needs a postgres user to run the servers (postgresql-common creates it)"
  as_server() { runuser -u postgres -- "$@"; }
  OWNER=postgres
  cd /   # the postgres user must be able to stat the working directory of what it runs
else
  as_server() { "$@"; }
  OWNER=$(id -un)
fi

# --- What must already be installed ---------------------------------------------------------------
[ -x "$PGBIN/postgres" ] && [ -x "$PGBIN/pg_config" ] ||
  refuse "PostgreSQL 15 is not installed ($PGBIN/postgres): apt-get install postgresql-15 postgresql-server-dev-15"
PKGLIB=$("$PGBIN/pg_config" --pkglibdir)
SHAREDIR=$("$PGBIN/pg_config" --sharedir)
[ -f "$PKGLIB/citus.so" ] && [ -f "$SHAREDIR/extension/citus.control" ] || refuse "Citus is not installed for PostgreSQL 15 ($PKGLIB/citus.so is missing).
  Debian has no Citus package: build it from source with scripts/citus-build.sh (as root), e.g.
    scripts/citus-build.sh citus-13.2.2.tar.gz
  — see docs/postgres.md, \"A local Citus cluster\"."
[ -f "$PKGLIB/vector.so" ] && [ -f "$SHAREDIR/extension/vector.control" ] || refuse "pgvector is not installed for PostgreSQL 15 ($PKGLIB/vector.so is missing).
  Install it with .ci/postgres-up.sh (as root; it builds Debian's pgvector source package) — see docs/postgres.md."

# --- The directory, the log, one run at a time ------------------------------------------------------
mkdir -p "$DIR" || refuse "cannot create $DIR"
LOG=$DIR/citus-up.log
touch "$LOG" 2>/dev/null || refuse "cannot write $LOG"
exec {lock}>"$DIR/citus-up.lock"
flock -w 600 "$lock" || refuse "another citus-up.sh kept $DIR/citus-up.lock for 10 minutes"

psql_at() {   # psql_at PORT [psql args…]: one node, as postgres, quiet, stop on the first error
  local p=$1; shift
  "$PGBIN/psql" "postgres://postgres@127.0.0.1:$p/postgres" -X -q -A -t -v ON_ERROR_STOP=1 "$@"
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
nodes=(coordinator)
for i in $(seq 1 "$WORKERS"); do nodes+=("worker$i"); done
node_port() { case "$1" in coordinator) echo "$PORT" ;; worker*) echo $((PORT + ${1#worker})) ;; esac; }

# Already up and registered: say so and stop here (the common case, well under a second).
ready() {
  local n p
  for n in "${nodes[@]}"; do
    p=$(node_port "$n")
    [ -f "$DIR/$n/postmaster.pid" ] && [ "$(sed -n 4p "$DIR/$n/postmaster.pid" 2>/dev/null)" = "$p" ] || return 1
    [ "$(psql_at "$p" -c "SELECT count(*) FROM pg_extension WHERE extname IN ('citus', 'vector')" 2>/dev/null)" = 2 ] || return 1
  done
  [ "$(psql_at "$PORT" -c "SELECT count(*) FROM pg_dist_node WHERE isactive AND nodename = '127.0.0.1'
        AND nodeport BETWEEN $PORT AND $((PORT + WORKERS))" 2>/dev/null)" = $((WORKERS + 1)) ]
}
if ready; then
  note "already up: coordinator 127.0.0.1:$PORT, workers 127.0.0.1:$((PORT + 1))..$((PORT + WORKERS))"
  echo "OMNIVEC_TEST_CITUS_URL=$URL"
  exit 0
fi

# --- 1. One cluster per node ------------------------------------------------------------------------
for n in "${nodes[@]}"; do
  d=$DIR/$n; p=$(node_port "$n")
  if [ ! -f "$d/PG_VERSION" ]; then
    mkdir -p "$d"
    [ -z "$(ls -A "$d")" ] || refuse "$d exists and is neither empty nor a PostgreSQL cluster; choose another directory"
    [ "$(id -u)" -ne 0 ] || chown postgres:postgres "$d"
    chmod 700 "$d"
    as_server test -w "$d" || refuse "$OWNER cannot write $d (a parent directory is closed to it, e.g. under /root); choose another directory"
    as_server "$PGBIN/initdb" -D "$d" -U postgres -A trust -E UTF8 --locale=C --no-sync >>"$LOG" 2>&1 || fail "initdb $d failed"
    {
      echo
      echo "# scripts/citus-up.sh ($n)"
      echo "listen_addresses = '127.0.0.1'"
      echo "port = $p"
      echo "unix_socket_directories = '$d'"
      echo "shared_preload_libraries = 'citus'"
      # Shard moves (the rebalancer) copy by logical replication.
      echo "wal_level = logical"
      # Multi-shard writes commit with two-phase commit on the workers.
      echo "max_prepared_transactions = 200"
      echo "max_connections = 200"
      echo "fsync = off"
      echo "synchronous_commit = off"
      echo "full_page_writes = off"
      if [ "$n" = coordinator ] && [ -n "$SHARDS" ]; then echo "citus.shard_count = $SHARDS"; fi
    } >>"$d/postgresql.conf"
    note "initdb $d (port $p)"
  fi
  [ "$(cat "$d/PG_VERSION")" = 15 ] || refuse "$d holds a PostgreSQL $(cat "$d/PG_VERSION") cluster, not 15; choose another directory"
done

# --- 2. The servers ---------------------------------------------------------------------------------
for n in "${nodes[@]}"; do
  d=$DIR/$n; p=$(node_port "$n")
  if as_server "$PGBIN/pg_ctl" -D "$d" status >/dev/null 2>&1; then
    running=$(sed -n 4p "$d/postmaster.pid")
    [ "$running" = "$p" ] || refuse "the $n in $d runs on port $running, not $p; stop the cluster with scripts/citus-down.sh first"
    continue
  fi
  ! port_open "$p" || refuse "127.0.0.1:$p is taken by another program; set OMNIVEC_CITUS_PORT (workers use PORT+1..PORT+$WORKERS)"
  # Only stdin, stdout and stderr reach the server, all three to files: an inherited pipe (a
  # caller's $(…), a CI step's output) or the lock would otherwise stay open as long as it runs.
  (
    for fd in "/proc/$BASHPID/fd/"*; do
      fd=${fd##*/}
      if [ "$fd" -gt 2 ]; then eval "exec $fd>&-"; fi
    done
    if [ "$(id -u)" -eq 0 ]; then
      exec runuser -u postgres -- "$PGBIN/pg_ctl" -D "$d" -l "$d/server.log" -w -t 60 start
    else
      exec "$PGBIN/pg_ctl" -D "$d" -l "$d/server.log" -w -t 60 start
    fi
  ) </dev/null >>"$LOG" 2>&1 || {
    tail -n 5 "$d/server.log" >>"$LOG" 2>/dev/null || true
    fail "the $n did not start (see $d/server.log)"
  }
  note "started $n on 127.0.0.1:$p"
done

# --- 3. Extensions on every node, then the coordinator's metadata ---------------------------------
for n in "${nodes[@]}"; do
  p=$(node_port "$n")
  # Only what is missing: a worker already in the cluster's metadata refuses even
  # CREATE EXTENSION IF NOT EXISTS ("operation is not allowed on this node"). citus goes first.
  for ext in citus vector; do
    have=$(psql_at "$p" -c "SELECT count(*) FROM pg_extension WHERE extname = '$ext'" 2>>"$LOG") ||
      fail "cannot query the $n (port $p)"
    [ "$have" = 1 ] && continue
    psql_at "$p" -c "CREATE EXTENSION $ext" >>"$LOG" 2>&1 || fail "CREATE EXTENSION $ext failed on the $n (port $p)"
  done
done
psql_at "$PORT" -c "SELECT citus_set_coordinator_host('127.0.0.1', $PORT)" >>"$LOG" 2>&1 ||
  fail "citus_set_coordinator_host failed"
for i in $(seq 1 "$WORKERS"); do
  p=$((PORT + i))
  known=$(psql_at "$PORT" -c "SELECT count(*) FROM pg_dist_node WHERE nodename = '127.0.0.1' AND nodeport = $p")
  if [ "$known" = 0 ]; then
    psql_at "$PORT" -c "SELECT citus_add_node('127.0.0.1', $p)" >>"$LOG" 2>&1 || fail "citus_add_node('127.0.0.1', $p) failed"
    note "added worker$i (127.0.0.1:$p)"
  else
    psql_at "$PORT" -c "SELECT citus_activate_node('127.0.0.1', $p)" >>"$LOG" 2>&1 || fail "citus_activate_node('127.0.0.1', $p) failed"
  fi
done

# --- 4. A query that crosses the cluster ------------------------------------------------------------
ready || fail "the cluster is not complete after starting it (see $LOG)"
citus=$(psql_at "$PORT" -c "SELECT extversion FROM pg_extension WHERE extname = 'citus'")
vector=$(psql_at "$PORT" -c "SELECT extversion FROM pg_extension WHERE extname = 'vector'")
active=$(psql_at "$PORT" -c "SELECT count(*) FROM citus_get_active_worker_nodes()")
note "up: PostgreSQL $(psql_at "$PORT" -c 'SHOW server_version'), Citus $citus, pgvector $vector; coordinator 127.0.0.1:$PORT, $active active workers (127.0.0.1:$((PORT + 1))..$((PORT + WORKERS)))"
echo "OMNIVEC_TEST_CITUS_URL=$URL"
