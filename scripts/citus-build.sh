#!/usr/bin/env bash
# scripts/citus-build.sh — build Citus from source against Debian's PostgreSQL 15 and install it
# into that server's directories (Debian 12 has no Citus package). For scripts/citus-up.sh and
# omnivec's Citus tests (docs/postgres.md, "A local Citus cluster").
#
#   scripts/citus-build.sh SOURCE
#
# SOURCE is a Citus source tarball (.tar.gz, .tgz, .tar.xz, .tar.bz2, .tar: one top directory, as
# GitHub's release archives and `git archive --prefix=citus-X.Y.Z/` make) or a source directory
# (a checkout; it is copied, never built in place). Citus 12.1.x and 13.x support PostgreSQL 15;
# 14.x does not. Checked with v13.2.2.
#
#   PG_CONFIG               (default /usr/lib/postgresql/15/bin/pg_config)
#   OMNIVEC_CITUS_BUILD_LOG (default /tmp/omnivec-citus-build.log)  what the steps printed
#   OMNIVEC_CITUS_FORCE=1   rebuild and reinstall even when the same Citus version is installed
#
# Needs root, or sudo (apt-get install of the build dependencies, make install into /usr). Reaches
# no network but Debian's archive through apt. Steps: (1) build dependencies from apt when missing;
# (2) the source unpacked or copied into a temporary directory; (3) a compatibility fix for PostgreSQL
# 15 minor releases whose headers declare have_createdb_privilege() (Citus 13.2.2 defines its own
# static copy, which no longer compiles there); (4) configure --without-libcurl (libcurl only serves
# Citus's anonymous statistics reporting, which needs the internet), make with_llvm=no (no JIT
# bitcode: it needs clang and the tests do not use it); (5) make install; (6) check the result.
# Progress goes to stderr; stdout is one line: the installed version and library path.
set -euo pipefail

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
LOG=${OMNIVEC_CITUS_BUILD_LOG:-/tmp/omnivec-citus-build.log}
FORCE=${OMNIVEC_CITUS_FORCE:-0}
export DEBIAN_FRONTEND=noninteractive
START=$(date +%s.%N)

elapsed() { awk -v a="$START" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f s", b - a }'; }
note() { echo "citus-build: $* ($(elapsed))" >&2; }
refuse() { echo "citus-build: FAILED: $*" >&2; exit 1; }
fail() {
  if [ -s "$LOG" ]; then echo "citus-build: the end of $LOG:" >&2; tail -n 25 "$LOG" | sed 's/^/  | /' >&2; fi
  refuse "$@"
}

[ $# -eq 1 ] || refuse "usage: $0 CITUS_SOURCE_TARBALL_OR_DIRECTORY (see docs/postgres.md, \"A local Citus cluster\")"
SOURCE=$(realpath -e "$1" 2>/dev/null) || refuse "no such file or directory: $1"

# Root does everything itself; anyone else needs sudo for apt-get and make install.
if [ "$(id -u)" -eq 0 ]; then
  as_root() { "$@"; }
elif command -v sudo >/dev/null 2>&1; then
  as_root() { sudo -n -- "$@"; }
  sudo -n true 2>/dev/null || refuse "needs root for apt-get and make install: run it as root, or with a sudo that needs no password (sudo $0 $1)"
else
  refuse "needs root for apt-get and make install (and there is no sudo): run it as root"
fi
: >"$LOG"

# --- 1. Build dependencies ------------------------------------------------------------------------
# postgresql-server-dev-15: the server headers and PGXS; liblz4-dev, libzstd-dev: Citus columnar's
# compression (configure requires them unless told --without-lz4/--without-zstd); libkrb5-dev:
# the server's libpq-be.h includes gssapi/gssapi.h; libssl-dev: it includes openssl/ssl.h too.
DEPS=(gcc make perl postgresql-15 postgresql-server-dev-15 liblz4-dev libzstd-dev libkrb5-dev libssl-dev)
missing=()
for p in "${DEPS[@]}"; do
  dpkg-query -W -f '${Status}\n' "$p" 2>/dev/null | grep -q ' installed$' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  note "installing ${missing[*]}"
  apt_install() { as_root apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 "$@" >>"$LOG" 2>&1; }
  # A fresh image may have no package lists, or stale ones: refresh once when the install fails.
  apt_install "${missing[@]}" || {
    as_root apt-get update -q -o DPkg::Lock::Timeout=600 >>"$LOG" 2>&1 || fail "apt-get update failed"
    apt_install "${missing[@]}" || fail "apt-get install ${missing[*]} failed"
  }
fi
[ -x "$PG_CONFIG" ] || refuse "no pg_config at $PG_CONFIG (set PG_CONFIG)"
PGMAJOR=$("$PG_CONFIG" --version | sed -n 's/^PostgreSQL \([0-9]*\).*/\1/p')
PKGLIB=$("$PG_CONFIG" --pkglibdir)
SHAREDIR=$("$PG_CONFIG" --sharedir)
SERVERINC=$("$PG_CONFIG" --includedir-server)

# --- 2. The source, in a directory of our own -----------------------------------------------------
work=$(mktemp -d /tmp/omnivec-citus-build.XXXXXX)
trap 'rm -rf "$work"' EXIT
if [ -d "$SOURCE" ]; then
  note "copying $SOURCE"
  tar -C "$SOURCE" --exclude=.git -cf - . | tar -C "$work" -xf - >>"$LOG" 2>&1 || fail "copying $SOURCE failed"
  tree=$work
else
  note "unpacking $SOURCE"
  tar -xf "$SOURCE" -C "$work" >>"$LOG" 2>&1 || fail "unpacking $SOURCE failed (a tar archive, optionally compressed, is expected)"
  tree=$(find "$work" -mindepth 1 -maxdepth 2 -name configure.ac -printf '%h\n' | head -n 1)
fi
[ -n "$tree" ] && [ -f "$tree/configure.ac" ] && [ -x "$tree/configure" ] ||
  refuse "$SOURCE does not look like Citus's source (no configure.ac and configure at its top)"
VERSION=$(sed -n 's/^AC_INIT(\[Citus\], *\[\([^]]*\)\].*/\1/p' "$tree/configure.ac" | head -n 1)
[ -n "$VERSION" ] || refuse "$SOURCE does not look like Citus's source (configure.ac has no AC_INIT([Citus], …))"

# The same version already installed: nothing to do (OMNIVEC_CITUS_FORCE=1 rebuilds).
if [ "$FORCE" != 1 ] && [ -f "$PKGLIB/citus.so" ] && [ -f "$SHAREDIR/extension/citus.control" ] &&
   grep -aq "Citus $VERSION on " "$PKGLIB/citus.so"; then
  note "Citus $VERSION is already installed for PostgreSQL $PGMAJOR (OMNIVEC_CITUS_FORCE=1 rebuilds it)"
  echo "citus $VERSION $PKGLIB/citus.so"
  exit 0
fi

# --- 3. PostgreSQL 15 minor releases that export have_createdb_privilege() ------------------------
# Later 15.x headers (commands/dbcommands.h) declare it extern; Citus's compat header defines a
# static inline function of the same name for PostgreSQL < 16, and gcc refuses the pair. Rename
# Citus's copy (same body) and point the name at it, only when the header has the declaration.
compat=$tree/src/include/pg_version_compat.h
if grep -q 'have_createdb_privilege' "$SERVERINC/commands/dbcommands.h" 2>/dev/null &&
   [ -f "$compat" ] && grep -q '^have_createdb_privilege(void)' "$compat"; then
  perl -0pi -e 's/static inline bool\nhave_createdb_privilege\(void\)/#define have_createdb_privilege omnivec_citus_have_createdb_privilege\nstatic inline bool\nomnivec_citus_have_createdb_privilege(void)/' "$compat"
  grep -q '^omnivec_citus_have_createdb_privilege(void)' "$compat" || refuse "could not apply the have_createdb_privilege fix to $compat"
  note "applied the have_createdb_privilege fix (the PostgreSQL $("$PG_CONFIG" --version | cut -d' ' -f2) headers declare it)"
fi

# --- 4. configure, make ---------------------------------------------------------------------------
note "building Citus $VERSION against $("$PG_CONFIG" --version)"
(cd "$tree" && ./configure PG_CONFIG="$PG_CONFIG" --without-libcurl) >>"$LOG" 2>&1 ||
  fail "configure failed (is Citus $VERSION compatible with PostgreSQL $PGMAJOR? 12.1.x and 13.x are for 15)"
make -C "$tree" -j"$(nproc)" with_llvm=no >>"$LOG" 2>&1 || fail "make failed"
note "built"

# --- 5. make install ------------------------------------------------------------------------------
as_root make -C "$tree" with_llvm=no install >>"$LOG" 2>&1 || fail "make install failed"

# --- 6. Check ---------------------------------------------------------------------------------------
[ -f "$PKGLIB/citus.so" ] && grep -aq "Citus $VERSION on " "$PKGLIB/citus.so" ||
  fail "$PKGLIB/citus.so is missing or not version $VERSION after make install"
control=$(sed -n "s/^default_version *= *'\([^']*\)'.*/\1/p" "$SHAREDIR/extension/citus.control")
note "installed Citus $VERSION (extension version $control) into $PKGLIB and $SHAREDIR/extension"
rm -rf "$work"; trap - EXIT
echo "citus $VERSION $PKGLIB/citus.so"
