#!/usr/bin/env bash
# .ci/postgres-up.sh — a throwaway PostgreSQL 15 server with pgvector for omnivec's PostgreSQL
# tests (docs/postgres.md, "Tests"). Debian 12 (bookworm); run as root; safe to run again (each
# step is skipped when already done, a running server is left as it is).
#
#   OMNIVEC_PG_DIR   (default /tmp/omnivec-ci-pg)  the cluster; also holds its unix socket
#   OMNIVEC_PG_PORT  (default 18230)               TCP port, on 127.0.0.1 only, trust authentication
#   OMNIVEC_PG_LOG   (default /tmp/omnivec-postgres-up.log)  what the steps printed
#   OMNIVEC_PGVECTOR_SUITE (default trixie)        the Debian release whose pgvector *source* is built
#   OMNIVEC_DEBIAN_MIRROR  (default: the archive apt is configured with, read at run time)
#
# Steps: (1) postgresql-15 + postgresql-server-dev-15 from bookworm when missing; (2) pgvector
# built from Debian's source package (bookworm has no binary one) with private apt state — the
# system's sources and lists are not touched, and no binary package of that release is ever
# installed (it would need a newer libc); (3) initdb as the postgres user, durability off;
# (4) the server started with nothing inherited but stdio; (5) CREATE EXTENSION vector.
# Progress and the reason of a failure go to stderr; stdout is one line, the connection URL.
set -euo pipefail

DATA=$(realpath -m "${OMNIVEC_PG_DIR:-/tmp/omnivec-ci-pg}")
PORT=${OMNIVEC_PG_PORT:-18230}
LOG=${OMNIVEC_PG_LOG:-/tmp/omnivec-postgres-up.log}
SUITE=${OMNIVEC_PGVECTOR_SUITE:-trixie}
PGBIN=/usr/lib/postgresql/15/bin
PGSHARE=/usr/share/postgresql/15
PGLIB=/usr/lib/postgresql/15/lib
URL="postgres://postgres@127.0.0.1:$PORT/postgres"
export DEBIAN_FRONTEND=noninteractive
START=$(date +%s.%N)

elapsed() { awk -v a="$START" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f s", b - a }'; }
note() { echo "postgres-up: $* ($(elapsed))" >&2; }
fail() {
  # The log's end first (what the failed step printed), the reason last, where a reader looks.
  if [ -s "$LOG" ]; then echo "postgres-up: the end of $LOG:" >&2; tail -n 20 "$LOG" | sed 's/^/  | /' >&2; fi
  refuse "$@"
}
refuse() { echo "postgres-up: FAILED: $*" >&2; exit 1; }
as_postgres() { runuser -u postgres -- "$@"; }

case "$PORT" in ''|*[!0-9]*) refuse "OMNIVEC_PG_PORT must be a port number, got '$PORT'" ;; esac
[ "$(id -u)" -eq 0 ] || refuse "must run as root (it installs packages and runs the server as the postgres user): sudo $0"
cd /   # the postgres user must be able to stat the working directory of what it runs

# One run at a time. The lock's descriptor is closed before the server starts (step 4).
exec {lock}>/tmp/omnivec-postgres-up.lock
flock -w 1200 "$lock" || refuse "another postgres-up.sh kept /tmp/omnivec-postgres-up.lock for 20 minutes"
: >"$LOG"

# --- 1. PostgreSQL 15 and its server headers, from the release the machine runs -----------------
apt_install() { apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 "$@" >>"$LOG" 2>&1; }
if [ ! -x "$PGBIN/postgres" ] || [ ! -x "$PGBIN/pg_config" ] || [ ! -f /usr/include/postgresql/15/server/postgres.h ]; then
  note "installing postgresql-15 and postgresql-server-dev-15"
  # A fresh image may have no package lists (or stale ones): refresh once when the install fails.
  apt_install postgresql-15 postgresql-server-dev-15 || {
    apt-get update -q -o DPkg::Lock::Timeout=600 >>"$LOG" 2>&1 || fail "apt-get update failed"
    apt_install postgresql-15 postgresql-server-dev-15 || fail "apt-get install postgresql-15 postgresql-server-dev-15 failed"
  }
  note "installed $("$PGBIN/postgres" --version)"
fi
id postgres >/dev/null 2>&1 || refuse "there is no postgres user (postgresql-common creates it; is the package half-installed?)"

# --- 2. pgvector, built from Debian's source package ---------------------------------------------
# The archive URI apt already uses for this release (deb822 .sources and one-line lists alike,
# as apt itself reads them); OMNIVEC_DEBIAN_MIRROR overrides it. Never a host name in this file.
archive_uri() {
  local release
  release=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  [ -n "$release" ] || return 0
  apt-get indextargets --no-release-info --format '$(REPO_URI) $(RELEASE)' 'Identifier: Packages' 2>/dev/null |
    awk -v r="$release" '$2 == r { print $1; exit }'
}
pgvector_version() {   # the installed default_version, or nothing
  [ -f "$PGLIB/vector.so" ] && sed -n "s/^default_version *= *'\([0-9.]*\)'.*/\1/p" "$PGSHARE/extension/vector.control" 2>/dev/null
}
at_least_08() { printf '%s\n' 0.8.0 "$1" | sort -V -C; }
have=$(pgvector_version || true)
if [ -z "$have" ] || ! at_least_08 "$have"; then
  mirror=${OMNIVEC_DEBIAN_MIRROR:-$(archive_uri)}
  [ -n "$mirror" ] || refuse "cannot tell which Debian archive apt uses (apt-get indextargets found none for this release); set OMNIVEC_DEBIAN_MIRROR"
  note "building pgvector from the $SUITE source package${have:+ (installed: $have, need ≥ 0.8)}"
  work=$(mktemp -d /tmp/omnivec-pgvector.XXXXXX)
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/sources.d" "$work/src"
  echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${mirror%/} $SUITE main" >"$work/sources.list"
  private=(-q -o Dir::Etc::SourceList="$work/sources.list" -o Dir::Etc::SourceParts="$work/sources.d"
           -o Dir::State::Lists="$work/lists" -o Dir::Cache="$work/cache" -o APT::Sandbox::User=root)
  apt-get "${private[@]}" update >>"$LOG" 2>&1 || fail "could not fetch the $SUITE source index from the configured archive"
  (cd "$work/src" && apt-get "${private[@]}" source --download-only pgvector) >>"$LOG" 2>&1 ||
    fail "could not download pgvector's source package from $SUITE"
  if command -v dpkg-source >/dev/null 2>&1; then
    (cd "$work/src" && dpkg-source -x ./pgvector_*.dsc tree) >>"$LOG" 2>&1 || fail "dpkg-source -x of pgvector failed"
  else
    # No dpkg-dev: the upstream tarball alone (OPTFLAGS="" below is what Debian's build does too).
    mkdir "$work/src/tree"
    tar -xzf "$(ls "$work"/src/pgvector_*.orig.tar.* | head -n 1)" -C "$work/src/tree" --strip-components=1 >>"$LOG" 2>&1 ||
      fail "unpacking pgvector's upstream tarball failed"
  fi
  # OPTFLAGS="": upstream builds with -march=native, a library for this CPU only.
  # with_llvm=no: no JIT bitcode (it needs clang and is of no use to the tests).
  build=(-C "$work/src/tree" PG_CONFIG="$PGBIN/pg_config" OPTFLAGS="" with_llvm=no)
  make "${build[@]}" -j"$(nproc)" >>"$LOG" 2>&1 || fail "building pgvector failed"
  make "${build[@]}" install >>"$LOG" 2>&1 || fail "installing pgvector failed"
  have=$(pgvector_version || true)
  [ -n "$have" ] && at_least_08 "$have" || fail "pgvector is still missing or older than 0.8 after the build (found '${have:-none}')"
  rm -rf "$work"; trap - EXIT
  note "pgvector $have built and installed"
fi

# --- 3. The cluster -------------------------------------------------------------------------------
if [ ! -f "$DATA/PG_VERSION" ]; then
  mkdir -p "$DATA"
  [ -z "$(ls -A "$DATA")" ] || refuse "$DATA exists and is neither empty nor a PostgreSQL cluster; choose another OMNIVEC_PG_DIR"
  chown postgres:postgres "$DATA"
  chmod 700 "$DATA"
  as_postgres test -w "$DATA" || refuse "the postgres user cannot write $DATA (a parent directory is closed to it, e.g. under /root); choose another OMNIVEC_PG_DIR"
  as_postgres "$PGBIN/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --locale=C --no-sync >>"$LOG" 2>&1 || fail "initdb failed"
  # Loopback only, its own port, the socket beside the data. A throwaway server: no fsync, no
  # synchronous commit, no full-page writes (a machine crash loses it; a killed client loses nothing).
  cat >>"$DATA/postgresql.conf" <<EOF

# .ci/postgres-up.sh
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$DATA'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
EOF
  note "initdb $DATA"
fi
version=$(cat "$DATA/PG_VERSION")
[ "$version" = 15 ] || refuse "$DATA holds a PostgreSQL $version cluster, not 15; choose another OMNIVEC_PG_DIR"

# --- 4. The server -------------------------------------------------------------------------------
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if as_postgres "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
  running=$(sed -n 4p "$DATA/postmaster.pid")
  [ "$running" = "$PORT" ] || refuse "the cluster in $DATA is already running on port $running, not $PORT; stop it with .ci/postgres-down.sh first"
  note "already running on 127.0.0.1:$PORT"
else
  ! port_open "$PORT" || refuse "127.0.0.1:$PORT is taken by another program; set OMNIVEC_PG_PORT"
  # Only stdin, stdout and stderr reach the server, all three to files: a pipe it inherited (the
  # caller's $(…), a CI step's output) or the lock would stay open as long as it runs.
  (
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      if [ "$fd" -gt 2 ]; then eval "exec $fd>&-"; fi
    done
    exec runuser -u postgres -- "$PGBIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -o "-p $PORT" -w -t 60 start
  ) </dev/null >>"$LOG" 2>&1 || {
    tail -n 5 "$DATA/server.log" >>"$LOG" 2>/dev/null || true
    fail "the server did not start (see $DATA/server.log)"
  }
  note "started on 127.0.0.1:$PORT"
fi

# --- 5. The extension, and a query that uses it -------------------------------------------------------
psql_() { "$PGBIN/psql" "$URL" -X -q -A -t -v ON_ERROR_STOP=1 "$@"; }
psql_ -c 'CREATE EXTENSION IF NOT EXISTS vector' >>"$LOG" 2>&1 || fail "CREATE EXTENSION vector failed"
distance=$(psql_ -c "SELECT '[1,2,3]'::vector <-> '[4,5,6]'::vector" 2>>"$LOG") || fail "a pgvector query failed"
extversion=$(psql_ -c "SELECT extversion FROM pg_extension WHERE extname = 'vector'")
unaccent=$(psql_ -c "SELECT count(*) FROM pg_available_extensions WHERE name = 'unaccent'")
[ "$unaccent" = 1 ] || note "warning: the unaccent extension is not available (omnivec's full-text search needs it)"
note "PostgreSQL $(psql_ -c 'SHOW server_version'), pgvector $extversion; [1,2,3] <-> [4,5,6] = $distance"
echo "$URL"
